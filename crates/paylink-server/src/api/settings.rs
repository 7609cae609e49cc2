//! Merchant settings: branding, link defaults and bounds. One set per merchant.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::money::Currency;
use paylink_domain::patch::Patch;
use paylink_domain::settings::{AmountBounds, MerchantSettings, Processors};
use paylink_domain::tax::PricingMode;
use paylink_domain::text::{bounded, email, https_url};
use paylink_domain::time::DurationSpec;
use paylink_store::{Conflict, StoreError};

use super::merchant;
use super::routes::{reg, route, Route};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, Json};
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Account";
    vec![
        route(
            Method::GET,
            "/v1/settings",
            tag,
            "Retrieve settings",
            Scope("settings:read"),
            200,
            reg::<SettingsOut>,
            get_settings,
        ),
        route(
            Method::PATCH,
            "/v1/settings",
            tag,
            "Update settings",
            Scope("settings:write"),
            200,
            reg::<SettingsOut>,
            update_settings,
        )
        .errors(
            400,
            &[
                "locale_unsupported",
                "processor_not_available",
                "parameters_inconsistent",
            ],
        )
        .body(reg::<SettingsPatch>),
    ]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettingsOut {
    #[schema(value_type = String, example = "settings")]
    pub object: &'static str,
    pub merchant_id: String,
    #[serde(flatten)]
    pub settings: MerchantSettings,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub business_name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = email_or_null)]
    pub support_email: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = color_or_null)]
    pub brand_color: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = image_url_or_null)]
    pub logo_url: Patch<String>,
    pub default_currency: Option<Currency>,
    pub pricing_mode: Option<PricingMode>,
    /// Replaces the whole map: currency code → `{minimum, maximum}`.
    #[schema(schema_with = bounds_schema)]
    pub amount_bounds: Option<BTreeMap<String, AmountBounds>>,
    #[serde(default)]
    pub default_link_expiry: Patch<DurationSpec>,
    /// 1 minute to 24 hours.
    #[schema(schema_with = ttl_schema)]
    pub checkout_session_ttl: Option<DurationSpec>,
    /// Hosts allowed in redirect URLs; empty allows any https host.
    #[schema(schema_with = allowlist_schema)]
    pub redirect_allowlist: Option<Vec<String>>,
    pub processors: Option<Processors>,
    /// E-mail a receipt after every successful payment whose customer gave an e-mail.
    pub email_receipts: Option<bool>,
    /// Every successful payment through a link that pays no order makes a `paid` order.
    pub create_orders: Option<bool>,
    /// How the hosted pages write money when the customer's browser names no language
    /// (BCP 47 language and region, e.g. `de-DE`).
    #[schema(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    pub default_locale: Option<String>,
    /// The waits before each retry of a failed renewal, each from the try before: 1 to 10
    /// of 1h to 30d, e.g. `1d,3d,5d`.
    pub subscription_retry_schedule: Option<paylink_domain::subscription::RetrySchedule>,
    /// When the retries run out: `cancel` (the subscription ends) or `mark_unpaid`.
    pub subscription_exhausted_action: Option<paylink_domain::subscription::ExhaustedAction>,
}

fn out(m: paylink_store::Merchant) -> SettingsOut {
    SettingsOut {
        object: "settings",
        merchant_id: m.id.to_string(),
        settings: m.settings,
    }
}

pub async fn get_settings(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    Ok(ok(&out(merchant(&state, &auth.tenant).await?)))
}

pub async fn update_settings(
    State(state): State<AppState>,
    auth: Auth,
    Json(patch): Json<SettingsPatch>,
) -> ApiResult<Response> {
    for _ in 0..3 {
        let m = merchant(&state, &auth.tenant).await?;
        let next = apply(m.settings.clone(), &patch)?;
        if next.processors != m.settings.processors {
            stripe_keys_set(&state, &auth, &m.settings, &next).await?;
        }
        match state.store.update_settings(&m.id, &next, m.version).await {
            Err(StoreError::Conflict(Conflict::ConcurrentUpdate)) => continue,
            r => {
                let updated = r?;
                state.forget_settings(&updated.id);
                return Ok(ok(&out(updated)));
            }
        }
    }
    Err(ApiError::conflict(
        "concurrent_update",
        "Settings are being changed by other requests; retry",
    ))
}

/// Stripe is chosen for a mode only once its keys are set for that mode; live mode is an
/// owner's (or a live secret key's) to choose.
async fn stripe_keys_set(
    state: &AppState,
    auth: &Auth,
    now: &MerchantSettings,
    next: &MerchantSettings,
) -> ApiResult<()> {
    use paylink_domain::access::{Grant, Role};
    let m = auth.tenant.merchant_id();
    for (live, name) in [
        (false, &next.processors.test),
        (true, &next.processors.live),
    ] {
        let param = if live {
            "processors.live"
        } else {
            "processors.test"
        };
        if name.as_deref() != Some(crate::stripe::STRIPE) {
            continue;
        }
        let t = paylink_store::Tenant::stored(m.clone(), live);
        if state
            .store
            .get_processor_credentials(&t, crate::stripe::STRIPE)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "processor_not_available",
                param,
                "Set this mode's Stripe keys first (PUT /v1/processors/stripe)",
            ));
        }
    }
    let owner = matches!(auth.grant, Grant::Member(Role::Owner))
        || (matches!(auth.grant, Grant::SecretKey) && auth.tenant.livemode());
    // Any change to live mode's processor, turning it off included (a patch of `processors`
    // replaces both modes), is an owner's.
    if next.processors.live != now.processors.live && !owner {
        return Err(ApiError::forbidden(
            "Only an owner (or a live secret key) chooses live mode's processor",
        ));
    }
    Ok(())
}

fn apply(mut s: MerchantSettings, p: &SettingsPatch) -> ApiResult<MerchantSettings> {
    if let Some(v) = &p.business_name {
        bounded(v, "business_name", 1, 100)?;
        s.business_name = v.clone();
    }
    if let Patch::Value(e) = &p.support_email {
        email(e, "support_email")?;
    }
    s.support_email = p.support_email.clone().apply(s.support_email);
    if let Patch::Value(c) = &p.brand_color {
        let ok =
            c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(ApiError::invalid(
                "parameter_invalid",
                "brand_color",
                "`brand_color` must look like #1a2b3c",
            ));
        }
    }
    s.brand_color = p.brand_color.clone().apply(s.brand_color);
    if let Patch::Value(u) = &p.logo_url {
        https_url(u, "logo_url")?;
    }
    s.logo_url = p.logo_url.clone().apply(s.logo_url);
    if let Some(c) = p.default_currency {
        s.default_currency = c;
    }
    if let Some(m) = p.pricing_mode {
        s.pricing_mode = m;
    }
    if let Some(v) = p.email_receipts {
        s.email_receipts = v;
    }
    if let Some(v) = p.create_orders {
        s.create_orders = v;
    }
    if let Some(v) = &p.subscription_retry_schedule {
        s.subscription_retry_schedule = v.clone();
    }
    if let Some(v) = p.subscription_exhausted_action {
        s.subscription_exhausted_action = v;
    }
    if let Some(tag) = &p.default_locale {
        if !locale_shaped(tag) {
            return Err(ApiError::invalid(
                "parameter_invalid",
                "default_locale",
                "Give a language tag such as en-US or de-DE",
            ));
        }
        let parsed = crate::locale::Locale::parse(tag).ok_or_else(|| {
            ApiError::invalid(
                "locale_unsupported",
                "default_locale",
                "Give a language tag such as en-US or de-DE",
            )
        })?;
        s.default_locale = parsed.language_tag();
    }
    if let Some(bounds) = &p.amount_bounds {
        let mut next = BTreeMap::new();
        for (code, b) in bounds {
            let param = format!("amount_bounds[{code}]");
            let c = Currency::parse(code).ok_or_else(|| {
                ApiError::invalid(
                    "parameter_invalid",
                    param.clone(),
                    format!("Unsupported currency `{code}`"),
                )
            })?;
            if b.minimum.minor() < 1 {
                return Err(ApiError::invalid(
                    "parameter_invalid",
                    param,
                    "Bounds need 1 ≤ minimum ≤ maximum",
                ));
            }
            if b.minimum > b.maximum {
                return Err(ApiError::invalid(
                    "parameters_inconsistent",
                    param,
                    "Bounds need 1 ≤ minimum ≤ maximum",
                ));
            }
            next.insert(c.code().to_owned(), *b);
        }
        s.amount_bounds = next;
    }
    s.default_link_expiry = p.default_link_expiry.clone().apply(s.default_link_expiry);
    if let Some(ttl) = p.checkout_session_ttl {
        if !(TTL_SECONDS.0..=TTL_SECONDS.1).contains(&ttl.seconds()) {
            return Err(ApiError::invalid(
                "parameter_invalid",
                "checkout_session_ttl",
                "`checkout_session_ttl` must be 1m to 24h",
            ));
        }
        s.checkout_session_ttl = ttl;
    }
    if let Some(hosts) = &p.redirect_allowlist {
        if hosts.len() > 50 {
            return Err(ApiError::invalid(
                "parameter_invalid",
                "redirect_allowlist",
                "At most 50 hosts",
            ));
        }
        for (i, h) in hosts.iter().enumerate() {
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !h.starts_with('.')
                && !h.ends_with('.');
            if !ok {
                return Err(ApiError::invalid(
                    "parameter_invalid",
                    format!("redirect_allowlist[{i}]"),
                    "Each entry must be a host name such as shop.example.com",
                ));
            }
        }
        s.redirect_allowlist = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    }
    if let Some(p) = &p.processors {
        if p.test
            .as_deref()
            .is_some_and(|n| n != "simulated" && n != "stripe")
        {
            return Err(ApiError::invalid(
                "processor_not_available",
                "processors.test",
                "Test mode takes `simulated` or `stripe`",
            ));
        }
        if p.live.as_deref().is_some_and(|n| n != "stripe") {
            return Err(ApiError::invalid(
                "processor_not_available",
                "processors.live",
                "Live mode takes `stripe` (the simulated processor serves test mode only)",
            ));
        }
        s.processors = p.clone();
    }
    Ok(s)
}

/// A language tag's shape, as the document's pattern for `default_locale` says: 2–3
/// letters, then `-` and 1–8 letters or digits at a time, at most 35 characters. Whether
/// the language is one we can write is asked of ICU after.
fn locale_shaped(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or("");
    tag.len() <= 35
        && (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// How long a checkout session may hold stock: 1 minute to 24 hours, in seconds.
const TTL_SECONDS: (i64, i64) = (60, 86_400);

/// A duration of [`TTL_SECONDS`], or `null` (left as it is).
fn ttl_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut o = DurationSpec::schema_between(TTL_SECONDS.0, TTL_SECONDS.1);
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

/// Currency code (any case) → bounds, as `amount_bounds` takes them, or `null`.
fn bounds_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    use utoipa::PartialSchema;
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(Currency::pattern())),
        ))
        .additional_properties(Some(AmountBounds::schema()))
        .build()
}

/// Up to 50 host names (`shop.example.com`), or `null`.
fn allowlist_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(253))
                .pattern(Some("^[A-Za-z0-9-](?:[A-Za-z0-9.-]*[A-Za-z0-9-])?$")),
        )
        .max_items(Some(50))
        .build()
}

crate::patch_text_schema!(email_or_null, 0, 254, paylink_domain::text::EMAIL_PATTERN);
crate::patch_text_schema!(color_or_null, 7, 7, "^#[0-9A-Fa-f]{6}$");
crate::patch_text_schema!(
    image_url_or_null,
    0,
    2048,
    paylink_domain::text::HTTPS_URL_PATTERN
);
