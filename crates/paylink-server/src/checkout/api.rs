//! The public JSON API: a link's preview, starting a checkout, paying it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use paylink_domain::catalog::Address;
use paylink_domain::checkout::{
    custom_field_values, price, CheckoutSession, Choice, CustomFieldValue, CustomerDetails,
    PricedCart, SessionStatus,
};
use paylink_domain::id::{random_base62, CheckoutSessionId, PaymentId};
use paylink_domain::link::{
    AdjustableQuantity, Collect, CustomField, Donation, LinkType, PaymentLink, PaymentMethodType,
    Prefill, SubscriptionTerms,
};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::{PricingMode, Totals};
use paylink_domain::text::{bounded_opt, email};
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, NewCheckout, StoreError};

use super::{gone, LinkView, MerchantView};
use crate::api::path::PathId;
use crate::api::routes::{params, reg, route, Route};
use crate::auth::Access::Public;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::state::AppState;

/// Why a link takes no more customers (`410`).
const GONE: &[&str] = &[
    "link_inactive",
    "link_expired",
    "link_paid",
    "link_cancelled",
    "link_not_open",
    "sold_out",
    "order_paid",
    "order_cancelled",
];

/// The public JSON routes (see [`crate::api::routes::public_table`]): no key, limited per
/// client IP.
pub fn routes() -> Vec<Route> {
    let tag = "Public checkout";
    vec![
        route(
            Method::GET,
            "/api/public/links/{slug}",
            tag,
            "Preview a payment link",
            Public,
            200,
            reg::<Preview>,
            preview,
        )
        .errors(410, GONE)
        .query(params::<PreviewQuery>),
        route(
            Method::POST,
            "/api/public/links/{slug}/checkout",
            tag,
            "Start a checkout (holds one use and the stock)",
            Public,
            201,
            reg::<CheckoutOut>,
            start,
        )
        .errors(400, &["currency_not_offered", "amount_out_of_bounds"])
        .errors(
            409,
            &[
                "link_fully_reserved",
                "stock_reserved",
                "order_reserved",
                "link_changed",
                "payments_not_enabled",
                "processor_not_configured",
                "currency_not_supported",
            ],
        )
        .errors(410, GONE)
        .errors(502, &["processor_auth_failed", "processor_refused"])
        .errors(503, &["processor_unavailable"])
        .body(reg::<CheckoutIn>),
        route(
            Method::POST,
            "/api/public/checkout_sessions/{id}/pay",
            tag,
            "Pay a checkout session",
            Public,
            200,
            reg::<PayOut>,
            pay,
        )
        .errors(
            400,
            &[
                "payment_method_not_allowed",
                "payment_method_not_reusable",
                "invalid_card_number",
                "invalid_expiry",
                "invalid_cvc",
            ],
        )
        .errors(
            409,
            &[
                "payment_in_progress",
                "payment_not_confirmed",
                "payment_processing",
                "payments_not_enabled",
                "processor_not_configured",
            ],
        )
        .errors(410, &["checkout_session_expired"])
        .errors(
            502,
            &[
                "processor_timeout",
                "processor_error",
                "processor_auth_failed",
                "processor_mismatch",
            ],
        )
        .errors(503, &["processor_unavailable"])
        .answer(
            402,
            "Declined: `{status: failed, decline_code}`",
            reg::<PayOut>,
        )
        .body(reg::<PayIn>),
    ]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PreviewLine {
    pub product_id: Option<String>,
    pub name: String,
    pub image_url: Option<String>,
    pub unit_amount: Amount,
    pub quantity: u32,
    pub adjustable_quantity: Option<AdjustableQuantity>,
    pub hsa_fsa_eligible: bool,
    pub tax_rate: Option<PreviewTax>,
    /// Units that can still be bought, when the product tracks stock.
    pub available: Option<i64>,
    pub sold_out: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PreviewTax {
    pub display_name: String,
    pub percentage: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Preview {
    #[schema(value_type = String, example = "payment_link_preview")]
    pub object: &'static str,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    #[serde(rename = "type")]
    pub kind: LinkType,
    pub merchant: MerchantView,
    /// The currency of the amounts here (the one asked for with `?currency=`).
    pub currency: Currency,
    /// Every currency the buyer may pay in, the link's own first.
    pub currencies: Vec<Currency>,
    pub line_items: Vec<PreviewLine>,
    pub donation: Option<Donation>,
    pub subscription: Option<SubscriptionTerms>,
    pub pricing_mode: PricingMode,
    /// At the default quantities (donations: the default amount or the minimum).
    pub totals: Totals,
    pub hsa_fsa_amount: Amount,
    pub custom_fields: Vec<CustomField>,
    pub collect: Collect,
    pub payment_method_types: Vec<PaymentMethodType>,
    pub prefill: Option<Prefill>,
    pub expires_at: Option<Timestamp>,
    pub livemode: bool,
}

/// The currencies a link is sold in, its own first.
pub fn currencies(link: &PaymentLink) -> Vec<Currency> {
    std::iter::once(link.currency)
        .chain(
            link.offered_currencies()
                .keys()
                .filter_map(|c| Currency::parse(c)),
        )
        .collect()
}

/// The link as sold in `currency` (its own when `None`); `400 currency_not_offered` when it
/// is not one of [`currencies`].
pub fn in_currency(
    link: &PaymentLink,
    currency: Option<Currency>,
) -> ApiResult<std::borrow::Cow<'_, PaymentLink>> {
    match currency {
        None => Ok(std::borrow::Cow::Borrowed(link)),
        Some(c) if c == link.currency => Ok(std::borrow::Cow::Borrowed(link)),
        Some(c) => link
            .in_currency(c)
            .map(std::borrow::Cow::Owned)
            .ok_or_else(|| {
                let offered: Vec<String> = currencies(link).iter().map(|c| c.to_string()).collect();
                ApiError::invalid(
                    "currency_not_offered",
                    "currency",
                    format!("This link is sold in {}", offered.join(", ")),
                )
            }),
    }
}

pub async fn build_preview(
    state: &AppState,
    view: &LinkView,
    currency: Option<Currency>,
) -> ApiResult<(Preview, paylink_domain::settings::MerchantSettings)> {
    let (p, stock) = (&view.p, &view.stock);
    let settings = state.public_settings(p.tenant.merchant_id()).await?;
    let link = &*in_currency(&p.link.value, currency)?;
    let lines = link
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let s = stock.get(i);
            let available = s.and_then(|s| s.available);
            PreviewLine {
                product_id: l.product_id.as_ref().map(|p| p.to_string()),
                name: l.name.clone(),
                image_url: l.image_url.clone(),
                unit_amount: l.unit_amount,
                quantity: l.quantity,
                adjustable_quantity: l.adjustable_quantity,
                hsa_fsa_eligible: l.hsa_fsa_eligible,
                tax_rate: if link.tax.collect {
                    l.tax_rate.as_ref().map(|t| PreviewTax {
                        display_name: t.display_name.clone(),
                        percentage: t.percentage.to_string(),
                    })
                } else {
                    None
                },
                available,
                sold_out: s.is_some_and(|s| s.available.is_some_and(|a| a + s.held == 0)),
            }
        })
        .collect();
    let (totals, hsa) = match price(link, &Choice::default(), &settings) {
        Ok(c) => (c.totals, c.hsa_fsa_amount),
        Err(_) => (link.default_totals().unwrap_or_default(), Amount::ZERO),
    };
    let preview = Preview {
        object: "payment_link_preview",
        slug: link.slug.as_str().to_owned(),
        title: link.title.clone(),
        description: link.description.clone(),
        image_url: link.image_url.clone(),
        kind: link.kind,
        merchant: MerchantView::from(&settings),
        currency: link.currency,
        currencies: currencies(&p.link.value),
        line_items: lines,
        donation: link.donation.clone(),
        subscription: link.subscription,
        pricing_mode: link.tax.pricing_mode,
        totals,
        hsa_fsa_amount: hsa,
        custom_fields: link.custom_fields.clone(),
        collect: link.collect,
        payment_method_types: link.payment_method_types.clone(),
        prefill: view.prefill.clone(),
        expires_at: link.expires_at,
        livemode: link.livemode,
    };
    Ok((preview, settings))
}

/// Other parameters (`utm_*`, cache busters) are ignored, as the page ignores them.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PreviewQuery {
    /// Price the preview in this currency (one of `currencies`).
    pub currency: Option<Currency>,
}

pub async fn preview(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Response> {
    let view = state.link_view(&slug).await?;
    let p = &view.p;
    if let Some(code) = view.unavailable(Timestamp::now()) {
        return Err(gone(code, Some(&p.link.value)));
    }
    let preview = build_preview(&state, &view, q.currency).await?.0;
    state.views.add(&p.link.value.id);
    Ok(ok(&preview))
}

#[derive(Deserialize, utoipa::ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct CheckoutIn {
    /// One quantity per line of the link, in order.
    pub quantities: Option<Vec<u32>>,
    /// Donations: the amount given.
    pub amount: Option<Amount>,
    /// One of the link's currencies (its own by default).
    pub currency: Option<Currency>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckoutOut {
    pub id: String,
    #[schema(value_type = String, example = "checkout_session")]
    pub object: &'static str,
    pub status: SessionStatus,
    pub expires_at: Timestamp,
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
    /// What paying charges today: `0` on a subscription with a trial, else `amount_total`.
    pub amount_due_today: Amount,
    /// On a subscription link: what recurs, and the trial.
    pub subscription: Option<SubscriptionTerms>,
    pub hsa_fsa_amount: Amount,
    pub currency: Currency,
    /// Pays this session: send it with `POST /api/public/checkout_sessions/{id}/pay`.
    pub client_secret: String,
    pub checkout_url: String,
    /// `simulated` or `stripe`: who takes the payment.
    pub processor: String,
    /// With Stripe: what Stripe.js needs to confirm the payment.
    pub stripe: Option<crate::stripe::checkout::StripeSession>,
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Opens a checkout session: prices the cart, checks the customer's details and holds one
/// use of the link and the stock, all or nothing.
pub async fn open_session(
    state: &AppState,
    slug: &str,
    input: CheckoutIn,
) -> ApiResult<(CheckoutSession, String)> {
    open_session_with(state, slug, input, None, BTreeMap::new()).await
}

/// [`open_session`] with a chosen id and secret (the hosted page derives them from its
/// nonce, so a double submit reuses one session) and the customer's attribution.
///
/// A link whose start depends on nothing that purchases change (no payments limit, no
/// products) is priced from the cached view the pages use; the store then opens the session
/// only while the link is still at that view's version. Any other link, and any refusal of
/// the cached view, reads the link afresh: what the customer pays is always the link as
/// it is now.
pub async fn open_session_with(
    state: &AppState,
    slug: &str,
    input: CheckoutIn,
    fixed: Option<(CheckoutSessionId, String)>,
    attribution: BTreeMap<String, String>,
) -> ApiResult<(CheckoutSession, String)> {
    let (id, secret) = fixed.unwrap_or_else(|| {
        (
            CheckoutSessionId::generate(),
            format!("cs_secret_{}", random_base62()),
        )
    });
    let now = Timestamp::now();
    let cached = state.link_view(slug).await?;
    let link = &cached.p.link.value;
    let plain = link.payments_limit.is_none()
        && link.line_items.iter().all(|l| l.product_id.is_none())
        && link.order_id.is_none()
        && cached.unavailable(now).is_none();
    if plain {
        let version = Some(cached.p.link.version);
        let attempt = Opening {
            view: &cached,
            input: input.clone(),
            id: id.clone(),
            secret: secret.clone(),
            attribution: attribution.clone(),
            version,
            now,
        };
        match attempt.open(state).await {
            // The cached view is out of date: the pages should not show it either.
            Err(e) if e.code == "link_changed" => state.links_cache.forget(slug),
            done => return done,
        }
    }
    // A link of an order is never kept in the cache (see `AppState::link_view`): the view
    // just read is already fresh.
    let loaded;
    let fresh = if cached.p.link.value.order_id.is_some() {
        &*cached
    } else {
        loaded = LinkView::load(state, slug).await?;
        &loaded
    };
    let attempt = Opening {
        view: fresh,
        input,
        id,
        secret,
        attribution,
        version: None,
        now,
    };
    attempt.open(state).await
}

/// One try at opening a session from one view of the link.
struct Opening<'a> {
    view: &'a LinkView,
    input: CheckoutIn,
    id: CheckoutSessionId,
    secret: String,
    attribution: BTreeMap<String, String>,
    /// The view's version, when it came from the cache (see [`NewCheckout::link_version`]).
    version: Option<i64>,
    now: Timestamp,
}

impl Opening<'_> {
    async fn open(self, state: &AppState) -> ApiResult<(CheckoutSession, String)> {
        if let Some(code) = self.view.unavailable(self.now) {
            return Err(gone(code, Some(&self.view.p.link.value)));
        }
        let Opening {
            view,
            input,
            id,
            secret,
            attribution,
            version,
            now,
        } = self;
        let p = &view.p;
        let settings = state.public_settings(p.tenant.merchant_id()).await?;
        if p.link.value.livemode && !crate::stripe::serves(&settings, true) {
            return Err(super::pay::live_not_enabled());
        }
        let Start {
            link,
            cart,
            custom,
            customer,
        } = read_start(&p.link.value, view.prefill.as_ref(), input, &settings)?;
        let link = &*link;
        let session = CheckoutSession {
            id,
            payment_link_id: link.id.clone(),
            status: SessionStatus::Open,
            currency: link.currency,
            line_items: cart.lines,
            amount_subtotal: cart.totals.amount_subtotal,
            amount_tax: cart.totals.amount_tax,
            amount_total: cart.totals.amount_total,
            hsa_fsa_amount: cart.hsa_fsa_amount,
            customer,
            custom_fields: custom,
            attribution,
            payment_id: None,
            subscription: link.subscription,
            livemode: link.livemode,
            expires_at: now.plus_seconds(settings.checkout_session_ttl.seconds()),
            created_at: now,
        };
        let new = NewCheckout {
            session: session.clone(),
            secret_hash: secret_hash(&secret),
            stock: cart.stock,
            limited_uses: link.payments_limit.is_some(),
            link_version: version,
            order_id: link.order_id.clone(),
            now,
        };
        match state.store.start_checkout(&p.tenant, &new).await {
            Ok(()) => Ok((session, secret)),
            Err(StoreError::Conflict(
                c @ (Conflict::LinkFullyReserved | Conflict::StockReserved),
            )) => {
                let next = state.store.next_hold_expiry(&link.id).await?.unwrap_or(now);
                let mut e = ApiError::conflict(
                    c.code(),
                    "Every remaining unit is held by customers checking out right now; try again shortly",
                );
                e.retry_after = Some(u64::try_from(next.unix() - now.unix()).unwrap_or(0).max(1));
                Err(e)
            }
            Err(StoreError::Conflict(Conflict::LinkUsedUp)) => Err(gone("link_paid", Some(link))),
            Err(StoreError::Conflict(Conflict::SoldOut)) => Err(gone("sold_out", Some(link))),
            Err(StoreError::Conflict(
                c @ (Conflict::LinkInactive | Conflict::OrderPaid | Conflict::OrderCancelled),
            )) => Err(gone(c.code(), Some(link))),
            // The order is gone from under its link.
            Err(StoreError::Conflict(Conflict::OrderNotFound)) => {
                Err(gone("link_inactive", Some(link)))
            }
            Err(StoreError::Conflict(Conflict::OrderReserved)) => {
                let mut e = ApiError::conflict(
                    "order_reserved",
                    "Someone is paying this order right now; try again shortly",
                );
                e.retry_after = Some(settings.checkout_session_ttl.seconds().clamp(1, 60) as u64);
                Err(e)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What a start request makes of a link: the link as sold in the currency asked for, the
/// cart priced with the customer's choices, the custom fields' answers and the customer's
/// details, all checked; nothing is held yet.
pub struct Start<'a> {
    pub link: std::borrow::Cow<'a, PaymentLink>,
    pub cart: PricedCart,
    pub custom: Vec<CustomFieldValue>,
    pub customer: CustomerDetails,
}

/// Reads a start request against the link (`prefill` is the page's, for what the request
/// leaves out). Pure: the store then holds what it says, or refuses.
pub fn read_start<'a>(
    base: &'a PaymentLink,
    prefill: Option<&Prefill>,
    input: CheckoutIn,
    settings: &MerchantSettings,
) -> ApiResult<Start<'a>> {
    let link = in_currency(base, input.currency)?;
    let cart = price(
        &link,
        &Choice {
            quantities: input.quantities,
            amount: input.amount,
        },
        settings,
    )?;
    let custom = custom_field_values(&link, &input.custom_fields)?;
    let customer = customer_details(
        &link,
        prefill,
        input.email,
        input.name,
        input.phone,
        input.billing_address,
        input.shipping_address,
    )?;
    Ok(Start {
        link,
        cart,
        custom,
        customer,
    })
}

fn customer_details(
    link: &paylink_domain::link::PaymentLink,
    prefill: Option<&Prefill>,
    email_in: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    billing: Option<Address>,
    shipping: Option<Address>,
) -> ApiResult<CustomerDetails> {
    let email_in = email_in.or_else(|| prefill.and_then(|p| p.email.clone()));
    let name = name.or_else(|| prefill.and_then(|p| p.name.clone()));
    let e = email_in.ok_or_else(|| {
        ApiError::invalid(
            "parameter_missing",
            "email",
            "An e-mail address is needed for the receipt",
        )
    })?;
    email(&e, "email")?;
    bounded_opt(name.as_deref(), "name", 1, 256)?;
    let need = |present: bool, param: &'static str, what: &str| {
        if present {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "parameter_missing",
                param,
                format!("{what} is required"),
            ))
        }
    };
    need(
        !link.collect.phone || phone.as_ref().is_some_and(|p| !p.trim().is_empty()),
        "phone",
        "A phone number",
    )?;
    need(
        !link.collect.billing_address || billing.is_some(),
        "billing_address",
        "A billing address",
    )?;
    need(
        !link.collect.shipping_address || shipping.is_some(),
        "shipping_address",
        "A shipping address",
    )?;
    if let Some(p) = &phone {
        let ok = (3..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_digit() || b" +-().".contains(&b));
        if !ok {
            return Err(ApiError::invalid(
                "phone_invalid",
                "phone",
                "Enter a valid phone number",
            ));
        }
    }
    for (param, a) in [
        ("billing_address", &billing),
        ("shipping_address", &shipping),
    ] {
        if let Some(a) = a {
            a.validate(param)?;
            if a.line1.is_none() || a.country.is_none() {
                return Err(ApiError::invalid(
                    "parameter_missing",
                    param,
                    "An address needs at least line1 and country",
                ));
            }
        }
    }
    Ok(CustomerDetails {
        email: Some(e),
        name,
        phone,
        billing_address: billing,
        shipping_address: shipping,
    })
}

pub async fn start(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(input): Json<CheckoutIn>,
) -> ApiResult<Response> {
    let (session, secret) = open_session(&state, &slug, input).await?;
    let (processor, stripe) = processor_of(&state, &slug, &session).await?;
    let out = CheckoutOut {
        id: session.id.to_string(),
        object: "checkout_session",
        status: session.status,
        expires_at: session.expires_at,
        amount_subtotal: session.amount_subtotal,
        amount_tax: session.amount_tax,
        amount_total: session.amount_total,
        amount_due_today: session.amount_due_today(),
        subscription: session.subscription,
        hsa_fsa_amount: session.hsa_fsa_amount,
        currency: session.currency,
        checkout_url: format!("{}/c/{}?s={}", state.public_url, session.id, secret),
        client_secret: secret,
        processor,
        stripe,
    };
    // A customer's retry gets this answer again; kept sealed, for it carries the secret.
    Ok(crate::idempotency::sealed(created(&out)))
}

/// Who takes a session's payment, and with Stripe its PaymentIntent for Stripe.js. The
/// link's view and the settings are the cached ones: a checkout on the simulated
/// processor reads nothing more.
async fn processor_of(
    state: &AppState,
    slug: &str,
    session: &CheckoutSession,
) -> ApiResult<(String, Option<crate::stripe::checkout::StripeSession>)> {
    let view = state.link_view(slug).await?;
    let tenant = &view.p.tenant;
    let settings = state.public_settings(tenant.merchant_id()).await?;
    if !crate::stripe::serves(&settings, session.livemode) {
        return Ok((state.processor.name().to_owned(), None));
    }
    let title = &view.p.link.value.title;
    let s = crate::stripe::checkout::intent_for(state, tenant, session, title).await?;
    Ok((crate::stripe::STRIPE.to_owned(), Some(s)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardIn {
    #[schema(value_type = String)]
    pub number: secrecy::SecretString,
    #[schema(minimum = 1, maximum = 12)]
    pub exp_month: u8,
    #[schema(minimum = 2000, maximum = 2100)]
    pub exp_year: u16,
    #[schema(value_type = String)]
    pub cvc: secrecy::SecretString,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodIn {
    #[serde(rename = "type")]
    pub kind: PayMethodType,
    pub card: Option<CardIn>,
}

/// How a session is paid: with card details (`card`), a mobile wallet (`wallet`), or, for
/// a seller on Stripe, by a PaymentIntent the browser confirmed with Stripe.js (`stripe`:
/// Paylink reads the outcome from Stripe).
#[derive(Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum PayMethodType {
    Card,
    Wallet,
    Stripe,
}

/// A pay request's answer: `succeeded` (200, with `payment_id`, `receipt_url` and
/// `redirect_url`), `requires_action` (200, with `next_action`) or `failed` (402, with
/// `decline_code`, the `error` it means and, when trying again may work, `retryable`).
// `pay.rs` builds every outcome as this type (and keeps it for replays), so its body
// holds what the document says and nothing else.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayOut {
    pub status: PayStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub payment_id: Option<PaymentId>,
    /// The receipt page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub receipt_url: Option<String>,
    /// Where to send the customer: the link's `success_url`, or the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_action: Option<NextAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decline_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<PayError>,
    /// Present (and `true`) when nothing was charged and the same card may be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retryable: Option<bool>,
}

impl PayOut {
    /// An answer with this status and nothing else yet.
    pub fn of(status: PayStatus) -> Self {
        Self {
            status,
            payment_id: None,
            receipt_url: None,
            redirect_url: None,
            next_action: None,
            decline_code: None,
            error: None,
            retryable: None,
        }
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum PayStatus {
    Succeeded,
    RequiresAction,
    Failed,
}

/// What the customer must do before the payment can complete.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: NextActionType,
    /// The card's authentication page (3-D Secure); it carries the client secret.
    pub redirect_url: String,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum NextActionType {
    Redirect,
}

/// Why a payment failed, in the shape of the API's error object (`type` is
/// `processor_error`, `code` the decline code).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayIn {
    pub client_secret: String,
    pub payment_method: PaymentMethodIn,
}

pub async fn pay(
    State(state): State<AppState>,
    PathId(id): PathId<CheckoutSessionId>,
    Json(input): Json<PayIn>,
) -> ApiResult<Response> {
    let answer = super::pay::pay(&state, &id, &input.client_secret, input.payment_method).await?;
    // A 3-D Secure answer names a URL carrying the client secret: kept sealed for retries.
    Ok(crate::idempotency::sealed(answer.into_response()))
}

/// An HTTP status for a stored answer.
pub fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}
