//! Payment links: create, read, update, state transitions, delete, list, and a link's
//! payments.
//!
//! Create and PATCH both build a whole [`PaymentLink`] (resolving products, tax rates,
//! orders and customers into snapshots here, at the edge) and then run the domain's
//! single `validate`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::checkout::Payment;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CustomerId, OrderId, PaymentLinkId};
use paylink_domain::link::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::patch::Patch;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::text::Slug;
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, LinkFilter, StoreError, Tenant, Versioned};

use super::link_pricing::{
    resolve_pricing, AmountOptionIn, DonationIn, LineItemIn, PricingIn, TaxIn,
};
use super::orders::currency_mismatch;
use super::path::PathId;
use super::payments::{self, PaymentListQuery};
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, settings, Deleted, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use axum::http::{Method, StatusCode};

use crate::json::{ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

mod patch;

/// What creating or changing a link refuses, beyond any body's errors.
const LINK_REFUSALS: &[&str] = &[
    "amount_out_of_bounds",
    "currency_mismatch",
    "invalid_redirect_url",
    "product_not_found",
    "order_not_found",
    "customer_not_found",
    "tax_rate_not_found",
    "invalid_payments_limit_for_order_link",
    "parameter_required",
    "parameters_exclusive",
    "parameters_inconsistent",
    "quantity_invalid",
];

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Payment links";
    vec![
        route(
            Method::POST,
            "/v1/payment_links",
            tag,
            "Create a payment link",
            Scope("payment_links:write"),
            201,
            reg::<PaymentLink>,
            create_link,
        )
        .errors(400, LINK_REFUSALS)
        .errors(409, &["payments_not_enabled", "slug_taken"])
        .body(reg::<PaymentLinkIn>),
        route(
            Method::GET,
            "/v1/payment_links",
            tag,
            "List payment links",
            Scope("payment_links:read"),
            200,
            list::<PaymentLink>,
            list_links,
        )
        .query(params::<LinkListQuery>),
        route(
            Method::GET,
            "/v1/payment_links/{id}",
            tag,
            "Retrieve a payment link",
            Scope("payment_links:read"),
            200,
            reg::<PaymentLink>,
            get_link,
        ),
        route(
            Method::PATCH,
            "/v1/payment_links/{id}",
            tag,
            "Update a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            update_link,
        )
        .errors(400, LINK_REFUSALS)
        .errors(400, &["payments_limit_below_count"])
        .errors(
            409,
            &[
                "payment_link_has_payments",
                "payments_limit_below_reserved",
                "slug_taken",
                "concurrent_update",
            ],
        )
        .body(reg::<PaymentLinkPatch>),
        route(
            Method::DELETE,
            "/v1/payment_links/{id}",
            tag,
            "Delete a payment link without payments",
            Scope("payment_links:write"),
            200,
            reg::<Deleted>,
            delete_link,
        )
        .errors(409, &["payment_link_has_payments"]),
        route(
            Method::POST,
            "/v1/payment_links/{id}/activate",
            tag,
            "Activate a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            activate_link,
        )
        .errors(409, &["invalid_state_transition", "concurrent_update"]),
        route(
            Method::POST,
            "/v1/payment_links/{id}/deactivate",
            tag,
            "Deactivate a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            deactivate_link,
        )
        .errors(409, &["invalid_state_transition", "concurrent_update"]),
        route(
            Method::POST,
            "/v1/payment_links/{id}/cancel",
            tag,
            "Cancel a payment link (terminal)",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            cancel_link,
        )
        .errors(409, &["invalid_state_transition", "concurrent_update"]),
        route(
            Method::GET,
            "/v1/payment_links/{id}/payments",
            tag,
            "List a link's payments",
            Scope("payments:read"),
            200,
            list::<Payment>,
            list_link_payments,
        )
        .query(params::<PaymentListQuery>),
    ]
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentLinkIn {
    /// Inferred when absent: `donation`, `subscription` or `order_id` name their type;
    /// product lines or `all_products` make `products`; anything else is `custom`.
    #[serde(rename = "type")]
    pub kind: Option<LinkType>,
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    /// Generated from the title when absent.
    #[schema(min_length = 3, max_length = 64, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[schema(
        min_length = 0,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<String>,
    #[schema(
        max_length = 2048,
        pattern = r"^https://[^/?#\s\u0000-\u001F\u007F-\u009F][^\s\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub image_url: Option<String>,
    /// Default: the products', the order's, or the merchant's default currency.
    pub currency: Option<Currency>,
    #[schema(min_items = 1, max_items = 20)]
    pub line_items: Option<Vec<LineItemIn>>,
    /// Shortcut for one line named after the title.
    pub amount: Option<Amount>,
    /// With `amount`: the amount in other currencies the buyer may pick
    /// (`{"EUR": {"amount": 900}}`). Lines take theirs in `line_items[].currency_options`.
    pub currency_options: Option<BTreeMap<String, AmountOptionIn>>,
    #[serde(default)]
    pub all_products: bool,
    pub donation: Option<DonationIn>,
    pub subscription: Option<SubscriptionTerms>,
    pub order_id: Option<OrderId>,
    pub tax: Option<TaxIn>,
    pub collect: Option<Collect>,
    #[schema(max_items = 5)]
    pub custom_fields: Option<Vec<CustomField>>,
    #[schema(min_items = 1, max_items = 2)]
    pub payment_method_types: Option<Vec<PaymentMethodType>>,
    #[schema(minimum = 1, maximum = 1000000)]
    pub payments_limit: Option<u32>,
    /// Default: now + the merchant's `default_link_expiry`, if set.
    pub expires_at: Option<Timestamp>,
    pub opens_at: Option<Timestamp>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub confirmation_message: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub inactive_message: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub prefill: Option<Prefill>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub reference_id: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

pub use patch::{update_link, PaymentLinkPatch};

/// The link as the API shows it: with its URL and its current status.
pub fn present(state: &AppState, mut link: PaymentLink, now: Timestamp) -> PaymentLink {
    link.url = format!("{}/l/{}", state.public_url, link.slug.as_str());
    link.stats.views += state.views.pending(&link.id);

    link.refresh_status(now);
    link
}

fn infer_type(i: &PaymentLinkIn) -> LinkType {
    if let Some(k) = i.kind {
        return k;
    }
    if i.donation.is_some() {
        LinkType::Donation
    } else if i.subscription.is_some() {
        LinkType::Subscription
    } else if i.order_id.is_some() {
        LinkType::Order
    } else if i.all_products
        || i.line_items
            .iter()
            .flatten()
            .any(|l| l.product_id.is_some())
    {
        LinkType::Products
    } else {
        LinkType::Custom
    }
}

async fn check_customer(state: &AppState, t: &Tenant, id: &Option<CustomerId>) -> ApiResult<()> {
    if let Some(c) = id {
        state.store.get_customer(t, c).await.map_err(|_| {
            ApiError::missing_reference("customer_not_found", "customer_id", "customer")
        })?;
    }
    Ok(())
}

fn future_expiry(at: Timestamp, now: Timestamp) -> ApiResult<()> {
    if at <= now {
        return Err(ApiError::invalid(
            "expires_at_in_past",
            "expires_at",
            "`expires_at` must be in the future",
        ));
    }
    Ok(())
}

pub async fn create_link(
    State(state): State<AppState>,
    auth: Auth,
    deferred: Option<axum::Extension<crate::idempotency::DeferredAnswer>>,
    Json(input): Json<PaymentLinkIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let settings = settings(&state, t).await?;
    if !settings.payments_enabled(t.livemode()) {
        return Err(ApiError::conflict(
            "payments_not_enabled",
            format!(
                "No payment processor is set up for {} mode",
                if t.livemode() { "live" } else { "test" }
            ),
        ));
    }
    let now = Timestamp::now();
    let created_by = auth.created_by();
    let (mut link, generated) = build_link(&state, t, &settings, input, created_by, now).await?;
    // A generated slug that collides is generated again; a chosen one is the client's to fix.
    let mut attempts = 0;
    loop {
        let shown = present(&state, link.clone(), now);
        let body = serde_json::to_vec(&shown).map_err(ApiError::internal)?;
        let ev = Event::new(EventType::PaymentLinkCreated, &shown, t.livemode(), now);
        // With an Idempotency-Key, the answer is written with the link (one commit).
        let answer = deferred
            .as_ref()
            .map(|d| d.answer(StatusCode::CREATED, &body, now));
        match state
            .store
            .insert_payment_link(t, &link, &[ev], answer.as_ref())
            .await
        {
            Err(StoreError::Conflict(Conflict::SlugTaken)) if generated && attempts < 5 => {
                attempts += 1;
                link.slug = Slug::generate(&link.title);
            }
            Err(StoreError::Conflict(Conflict::SlugTaken)) => {
                return Err(ApiError::conflict(
                    "slug_taken",
                    "That slug is already used by another payment link",
                )
                .with_param("slug"))
            }
            Err(StoreError::Conflict(Conflict::IdempotencyKeyInUse)) if answer.is_some() => {
                return Ok(crate::idempotency::raced())
            }
            r => {
                r?;
                return Ok(crate::idempotency::answered(
                    StatusCode::CREATED,
                    body,
                    answer.is_some(),
                ));
            }
        }
    }
}

/// The link a create request asks for: its customer, products, tax rates and order looked
/// up, the whole link checked by the domain's rules; nothing is written. With it, whether
/// its slug was generated (a generated slug that collides is generated again).
pub async fn build_link(
    state: &AppState,
    t: &Tenant,
    settings: &MerchantSettings,
    input: PaymentLinkIn,
    created_by: CreatedBy,
    now: Timestamp,
) -> ApiResult<(PaymentLink, bool)> {
    let kind = infer_type(&input);
    if input.subscription.is_some() && !matches!(kind, LinkType::Subscription | LinkType::Donation) {
        return Err(ApiError::invalid(
            "parameters_exclusive",
            "subscription",
            "Only a `subscription` or `donation` link takes `subscription`",
        ));
    }
    let slug = match &input.slug {
        Some(s) => Some(Slug::parse(s, "slug")?),
        None => None,
    };
    if let Some(e) = input.expires_at {
        future_expiry(e, now)?;
    }
    check_customer(state, t, &input.customer_id).await?;
    let pricing = resolve_pricing(
        state,
        t,
        settings,
        PricingIn {
            kind,
            title: &input.title,
            currency: input.currency,
            line_items: input.line_items,
            amount: input.amount,
            currency_options: input.currency_options,
            all_products: input.all_products,
            donation: input.donation,
            order_id: input.order_id,
            tax: input.tax,
        },
    )
    .await?;
    let payments_limit = match (kind, input.payments_limit) {
        (LinkType::Order, None) => Some(1),
        (_, l) => l,
    };
    let expires_at = input.expires_at.or_else(|| {
        settings
            .default_link_expiry
            .map(|d| now.plus_seconds(d.seconds()))
    });
    let generated = slug.is_none();
    let mut link = PaymentLink {
        id: PaymentLinkId::generate(),
        url: String::new(),
        slug: slug.unwrap_or_else(|| Slug::generate(&input.title)),
        title: input.title,
        description: input.description,
        image_url: input.image_url,
        kind,
        status: LinkStatus::Active,
        currency: pricing.currency,
        currency_options: BTreeMap::new(),
        line_items: pricing.line_items,
        all_products: input.all_products,
        donation: pricing.donation,
        subscription: input.subscription,
        order_id: pricing.order_id,
        tax: pricing.tax,
        collect: input.collect.unwrap_or_default(),
        custom_fields: input.custom_fields.unwrap_or_default(),
        payment_method_types: input
            .payment_method_types
            .unwrap_or_else(|| vec![PaymentMethodType::Card]),
        payments_limit,
        payments_count: 0,
        paid_from: None,
        expires_at,
        opens_at: input.opens_at,
        success_url: input.success_url,
        cancel_url: input.cancel_url,
        confirmation_message: input.confirmation_message,
        inactive_message: input.inactive_message,
        customer_id: input.customer_id.or(pricing.order_customer),
        prefill: input.prefill,
        reference_id: input.reference_id,
        metadata: Metadata::parse(input.metadata)?,
        stats: LinkStats::default(),
        created_by,
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    };
    link.currency_options = link.offered_currencies();
    link.validate(&LinkRules { settings, now })?;
    Ok((link, generated))
}

async fn load(
    state: &AppState,
    t: &Tenant,
    id: &PaymentLinkId,
) -> ApiResult<Versioned<PaymentLink>> {
    state
        .store
        .get_payment_link(t, id)
        .await
        .map_err(not_found_as("payment link"))
}

pub async fn get_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    let mut link = load(&state, &auth.tenant, &id).await?.value;
    if !link.currency_options.is_empty() {
        for (code, n, total) in state.store.link_takings(&auth.tenant, &link.id).await? {
            let s = CurrencyStats {
                payments_count: n,
                amount_collected: total,
            };
            link.stats.currencies.insert(code, s);
        }
    }
    Ok(ok(&present(&state, link, Timestamp::now())))
}

async fn transition(
    state: AppState,
    auth: Auth,
    id: PaymentLinkId,
    action: &'static str,
    kind: EventType,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    for _ in 0..3 {
        let current = load(&state, t, &id).await?;
        let now = Timestamp::now();
        let mut link = current.value;
        let changed = link.transition(action, now).map_err(|e| {
            ApiError::conflict(
                "invalid_state_transition",
                format!(
                    "A payment link that is `{}` cannot be {}",
                    e.from.as_str(),
                    match e.action {
                        "activate" => "activated",
                        "deactivate" => "deactivated",
                        "cancel" => "cancelled",
                        other => other,
                    }
                ),
            )
        })?;
        if !changed {
            return Ok(ok(&present(&state, link, now)));
        }
        let ev = Event::new(kind, &present(&state, link.clone(), now), t.livemode(), now);
        match state
            .store
            .update_payment_link(t, &link, current.version, false, &[ev])
            .await
        {
            Err(StoreError::Conflict(Conflict::ConcurrentUpdate)) => continue,
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

pub async fn activate_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    transition(state, auth, id, "activate", EventType::PaymentLinkActivated).await
}

pub async fn deactivate_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    transition(
        state,
        auth,
        id,
        "deactivate",
        EventType::PaymentLinkDeactivated,
    )
    .await
}

pub async fn cancel_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    transition(state, auth, id, "cancel", EventType::PaymentLinkCancelled).await
}

pub async fn delete_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let link = load(&state, t, &id).await?.value;
    if link.payments_count > 0 {
        return Err(ApiError::conflict(
            "payment_link_has_payments",
            "A payment link with payments cannot be deleted; deactivate or cancel it",
        ));
    }
    let now = Timestamp::now();
    let ev = Event::new(
        EventType::PaymentLinkDeleted,
        &present(&state, link.clone(), now),
        t.livemode(),
        now,
    );
    state
        .store
        .delete_payment_link(t, &link.id, now, &[ev])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::conflict(
                "payment_link_has_payments",
                "A payment link with payments or checkouts in progress cannot be deleted",
            ),
            e => not_found_as("payment link")(e),
        })?;
    Ok(ok(&Deleted::new(link.id, "payment_link")))
}

list_query!(LinkListQuery with created {
    status: Option<LinkStatus>,
    #[serde(rename = "type")]
    kind: Option<LinkType>,
    reference_id: Option<String>,
    customer_id: Option<CustomerId>,
    /// Case-insensitive search in titles.
    #[param(max_length = 100)]
    q: Option<String>,
});

pub async fn list_links(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<LinkListQuery>,
) -> ApiResult<Response> {
    let (status, kind, customer_id) = (q.status, q.kind, q.customer_id.clone());
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "q",
            "`q` must be at most 100 characters",
        ));
    }
    let now = Timestamp::now();
    let f = LinkFilter {
        status,
        kind,
        reference_id: q.reference_id.clone(),
        customer_id,
        created: q.created()?,
        q: q.q.clone(),
        now,
    };
    let l = state
        .store
        .list_payment_links(&auth.tenant, &f, &q.page()?)
        .await?;
    let l = l.map(|x| present(&state, x, now));
    Ok(ok(&List::new(l, "/v1/payment_links")))
}

pub async fn list_link_payments(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PaymentListQuery>,
    PathId(link_id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    state
        .store
        .get_payment_link(&auth.tenant, &link_id)
        .await
        .map_err(not_found_as("payment link"))?;
    let url = format!("/v1/payment_links/{link_id}/payments");
    payments::list_page(&state, &auth, &q, Some(link_id), &url).await
}
