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
    pub business_name: Option<String>,
    #[serde(default)]
    pub support_email: Patch<String>,
    #[serde(default)]
    pub brand_color: Patch<String>,
    #[serde(default)]
    pub logo_url: Patch<String>,
    pub default_currency: Option<Currency>,
    pub pricing_mode: Option<PricingMode>,
    /// Replaces the whole map: currency code → `{minimum, maximum}`.
    pub amount_bounds: Option<BTreeMap<String, AmountBounds>>,
    #[serde(default)]
    pub default_link_expiry: Patch<DurationSpec>,
    /// 1 minute to 24 hours.
    pub checkout_session_ttl: Option<DurationSpec>,
    /// Hosts allowed in redirect URLs; empty allows any https host.
    pub redirect_allowlist: Option<Vec<String>>,
    pub processors: Option<Processors>,
    /// E-mail a receipt after every successful payment whose customer gave an e-mail.
    pub email_receipts: Option<bool>,
    /// Every successful payment through a link that pays no order makes a `paid` order.
    pub create_orders: Option<bool>,
    /// How the hosted pages write money when the customer's browser names no language
    /// (BCP 47 language and region, e.g. `de-DE`).
    pub default_locale: Option<String>,
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
    if let Some(tag) = &p.default_locale {
        let parsed = (tag.len() <= 35)
            .then(|| crate::locale::Locale::parse(tag))
            .flatten()
            .ok_or_else(|| {
                ApiError::invalid(
                    "parameter_invalid",
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
            if b.minimum.minor() < 1 || b.minimum > b.maximum {
                return Err(ApiError::invalid(
                    "parameter_invalid",
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
        if !(60..=86_400).contains(&ttl.seconds()) {
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
        if p.test.as_deref().is_some_and(|n| n != "simulated") {
            return Err(ApiError::invalid(
                "processor_not_available",
                "processors.test",
                "The only test processor is `simulated`",
            ));
        }
        if p.live.is_some() {
            return Err(ApiError::invalid(
                "processor_not_available",
                "processors.live",
                "No live processor is available in this build; the simulated processor serves test mode only",
            ));
        }
        s.processors = p.clone();
    }
    Ok(s)
}
