//! PATCH of a payment link: what may change, and the whole link rebuilt and validated
//! again (pricing fields are frozen once the link has payments).

use super::*;

/// Every field is optional. Pricing fields (`line_items`, `amount`, `donation`,
/// `subscription`, `tax`, `currency`) are frozen once the link has a payment.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentLinkPatch {
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    #[schema(min_length = 3, max_length = 64, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[serde(default)]
    #[schema(schema_with = link_description)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = image_url_or_null)]
    pub image_url: Patch<String>,
    pub currency: Option<Currency>,
    #[schema(min_items = 1, max_items = 20)]
    pub line_items: Option<Vec<LineItemIn>>,
    pub amount: Option<Amount>,
    /// With `amount` (see the create request).
    pub currency_options: Option<BTreeMap<String, AmountOptionIn>>,
    pub donation: Option<DonationIn>,
    pub subscription: Option<SubscriptionTerms>,
    pub tax: Option<TaxIn>,
    pub collect: Option<Collect>,
    #[schema(max_items = 5)]
    pub custom_fields: Option<Vec<CustomField>>,
    #[schema(min_items = 1, max_items = 2)]
    pub payment_method_types: Option<Vec<PaymentMethodType>>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub payments_limit: Patch<u32>,
    #[serde(default)]
    pub expires_at: Patch<Timestamp>,
    #[serde(default)]
    pub opens_at: Patch<Timestamp>,
    #[serde(default)]
    pub success_url: Patch<String>,
    #[serde(default)]
    pub cancel_url: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = message_or_null)]
    pub confirmation_message: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = message_or_null)]
    pub inactive_message: Patch<String>,
    #[serde(default)]
    pub customer_id: Patch<CustomerId>,
    #[serde(default)]
    pub prefill: Patch<Prefill>,
    #[serde(default)]
    #[schema(schema_with = reference_or_null)]
    pub reference_id: Patch<String>,
    /// Keys set to `""` are removed.
    pub metadata: Option<BTreeMap<String, String>>,
}

impl PaymentLinkPatch {
    fn touches_pricing(&self) -> bool {
        self.currency.is_some()
            || self.line_items.is_some()
            || self.amount.is_some()
            || self.currency_options.is_some()
            || self.donation.is_some()
            || self.subscription.is_some()
            || self.tax.is_some()
    }
}

pub async fn update_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
    Json(patch): Json<PaymentLinkPatch>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let settings = settings(&state, t).await?;
    // A concurrent change (a checkout, another PATCH) makes the version guard refuse the
    // write; re-read and re-apply a few times before giving up.
    for _ in 0..3 {
        let current = load(&state, t, &id).await?;
        let now = Timestamp::now();
        let link = apply_patch(&state, t, &settings, current.value, &patch, now).await?;
        let ev = Event::new(
            EventType::PaymentLinkUpdated,
            &present(&state, link.clone(), now),
            t.livemode(),
            now,
        );
        match state
            .store
            .update_payment_link(t, &link, current.version, patch.touches_pricing(), &[ev])
            .await
        {
            Err(StoreError::Conflict(Conflict::ConcurrentUpdate)) => continue,
            Err(StoreError::Conflict(Conflict::SlugTaken)) => {
                return Err(ApiError::conflict(
                    "slug_taken",
                    "That slug is already used by another payment link",
                )
                .with_param("slug"))
            }
            Err(StoreError::Conflict(Conflict::PaymentsLimitBelowReserved)) => {
                return Err(ApiError::conflict(
                    "payments_limit_below_reserved",
                    "`payments_limit` cannot go below the payments made plus the checkouts \
                     in progress, which may still be paid; try again when they end, or \
                     deactivate the link to stop new ones",
                )
                .with_param("payments_limit"))
            }
            r => {
                r?;
                return Ok(ok(&present(&state, link, now)));
            }
        }
    }
    Err(ApiError::conflict(
        "concurrent_update",
        "The payment link is being changed by other requests; retry",
    ))
}

async fn apply_patch(
    state: &AppState,
    t: &Tenant,
    settings: &MerchantSettings,
    mut link: PaymentLink,
    patch: &PaymentLinkPatch,
    now: Timestamp,
) -> ApiResult<PaymentLink> {
    if patch.touches_pricing() {
        if link.payments_count > 0 {
            return Err(ApiError::conflict(
                "payment_link_has_payments",
                "Pricing fields cannot change once the link has payments; create a new link",
            ));
        }
        if link.kind == LinkType::Order {
            return Err(ApiError::invalid(
                "parameters_exclusive",
                "line_items",
                "An `order` link's pricing comes from its order",
            ));
        }
        if link.all_products && (patch.line_items.is_some() || patch.amount.is_some()) {
            return Err(ApiError::invalid(
                "parameters_exclusive",
                "line_items",
                "An `all_products` link has no line items to set",
            ));
        }
        let new_lines = patch.line_items.is_some() || patch.amount.is_some();
        let currency = patch.currency.unwrap_or(link.currency);
        let kept_products = !new_lines && link.line_items.iter().any(|l| l.product_id.is_some());
        if kept_products && !link.all_products && currency != link.currency {
            return Err(currency_mismatch("currency", link.currency, currency));
        }
        let pricing = resolve_pricing(
            state,
            t,
            settings,
            PricingIn {
                kind: link.kind,
                title: &link.title,
                currency: Some(currency),
                line_items: patch.line_items.clone(),
                amount: patch.amount,
                currency_options: patch.currency_options.clone(),
                all_products: link.all_products,
                donation: patch
                    .donation
                    .clone()
                    .or_else(|| link.donation.as_ref().map(DonationIn::from)),
                order_id: None,
                tax: patch.tax.clone().or_else(|| {
                    Some(TaxIn {
                        collect: link.tax.collect,
                        tax_rate_id: link.tax.tax_rate_id.clone(),
                        pricing_mode: Some(link.tax.pricing_mode),
                    })
                }),
            },
        )
        .await?;
        if new_lines || link.all_products {
            link.line_items = pricing.line_items;
        } else {
            // The lines' snapshot stays; only their tax follows the new tax settings.
            for l in &mut link.line_items {
                l.tax_rate = match (&pricing.tax.collect, &pricing.link_rate) {
                    (false, _) => None,
                    (true, Some(r)) => Some(r.clone()),
                    (true, None) => l.tax_rate.take(),
                };
            }
        }
        link.currency = pricing.currency;
        link.donation = pricing.donation;
        link.tax = pricing.tax;
        link.currency_options = link.offered_currencies();
        if let Some(s) = patch.subscription {
            // A donation may recur, as when it is created.
            if !matches!(link.kind, LinkType::Subscription | LinkType::Donation) {
                return Err(ApiError::invalid(
                    "parameters_exclusive",
                    "subscription",
                    "Only a `subscription` or `donation` link takes `subscription`",
                ));
            }
            link.subscription = Some(s);
        }
    }
    if let Some(v) = &patch.title {
        link.title = v.clone();
    }
    if let Some(s) = &patch.slug {
        link.slug = Slug::parse(s, "slug")?;
    }
    link.description = patch.description.clone().apply(link.description);
    link.image_url = patch.image_url.clone().apply(link.image_url);
    if let Some(v) = patch.collect {
        link.collect = v;
    }
    if let Some(v) = &patch.custom_fields {
        link.custom_fields = v.clone();
    }
    if let Some(v) = &patch.payment_method_types {
        link.payment_method_types = v.clone();
    }
    if !patch.payments_limit.is_absent() {
        if link.kind == LinkType::Order {
            return Err(ApiError::invalid(
                "invalid_payments_limit_for_order_link",
                "payments_limit",
                "An order link must have `payments_limit` 1",
            ));
        }
        link.payments_limit = patch.payments_limit.clone().apply(link.payments_limit);
        link.settle_paid_status();
    }
    if let Patch::Value(e) = &patch.expires_at {
        future_expiry(*e, now)?;
    }
    link.expires_at = patch.expires_at.clone().apply(link.expires_at);
    link.opens_at = patch.opens_at.clone().apply(link.opens_at);
    link.success_url = patch.success_url.clone().apply(link.success_url);
    link.cancel_url = patch.cancel_url.clone().apply(link.cancel_url);
    link.confirmation_message = patch
        .confirmation_message
        .clone()
        .apply(link.confirmation_message);
    link.inactive_message = patch.inactive_message.clone().apply(link.inactive_message);
    if !patch.customer_id.is_absent() {
        link.customer_id = patch.customer_id.clone().apply(link.customer_id);
        check_customer(state, t, &link.customer_id).await?;
    }
    link.prefill = patch.prefill.clone().apply(link.prefill);
    link.reference_id = patch.reference_id.clone().apply(link.reference_id);
    if let Some(m) = &patch.metadata {
        link.metadata = link.metadata.merged(m.clone())?;
    }
    link.updated_at = now;
    link.validate(&LinkRules { settings, now })?;
    Ok(link)
}

crate::patch_text_schema!(link_description, 0, 500, paylink_domain::text::TEXT_PATTERN);
crate::patch_text_schema!(
    image_url_or_null,
    0,
    2048,
    paylink_domain::text::HTTPS_URL_PATTERN
);
crate::patch_text_schema!(message_or_null, 1, 500, paylink_domain::text::TEXT_PATTERN);
crate::patch_text_schema!(
    reference_or_null,
    1,
    200,
    paylink_domain::text::TEXT_PATTERN
);
