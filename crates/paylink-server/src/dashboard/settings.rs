//! The merchant's settings: branding (with a preview of the hosted checkout's header),
//! link defaults, amount bounds per currency and the redirect allowlist. Read and written
//! through `GET`/`PATCH /v1/settings`, whose rules and messages are the page's.
//!
//! Settings are the merchant's, not a mode's: the API keeps one set for test and live
//! alike, so this page shows and changes the same values in either mode.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Value};

use paylink_domain::money::Currency;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::PricingMode;

use super::client::{Api, Refusal};
use super::{page, refused, see_other, Shell, Visit};

/// The brand colour of a merchant who chose none: the hosted pages' own.
const DEFAULT_BRAND: &str = "#1f4fd1";

/// Every field of every form, as text: the saved values, or what was sent when the API
/// refused it (so the corrected form keeps what was typed).
#[derive(Default)]
pub struct Fields {
    pub business_name: String,
    pub support_email: String,
    pub brand_color: String,
    pub logo_url: String,
    pub default_currency: String,
    pub default_link_expiry: String,
    pub checkout_session_ttl: String,
    pub pricing_mode: String,
    pub allowlist: String,
    pub bound_currency: String,
    pub bound_minimum: String,
    pub bound_maximum: String,
    /// `1d,3d,5d`.
    pub retry_schedule: String,
    /// `cancel` or `mark_unpaid`.
    pub exhausted_action: String,
}

impl Fields {
    fn of(s: &MerchantSettings) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            business_name: s.business_name.clone(),
            support_email: text(&s.support_email),
            brand_color: text(&s.brand_color),
            logo_url: text(&s.logo_url),
            default_currency: s.default_currency.code().to_owned(),
            default_link_expiry: s
                .default_link_expiry
                .as_ref()
                .map(duration_text)
                .unwrap_or_default(),
            checkout_session_ttl: duration_text(&s.checkout_session_ttl),
            pricing_mode: pricing_text(s.pricing_mode).to_owned(),
            allowlist: s.redirect_allowlist.join("\n"),
            bound_currency: s.default_currency.code().to_owned(),
            bound_minimum: String::new(),
            bound_maximum: String::new(),
            retry_schedule: s.subscription_retry_schedule.to_string(),
            exhausted_action: serde_json::to_value(s.subscription_exhausted_action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        }
    }
}

fn duration_text(d: &paylink_domain::time::DurationSpec) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn pricing_text(m: PricingMode) -> &'static str {
    match m {
        PricingMode::Inclusive => "inclusive",
        PricingMode::Exclusive => "exclusive",
    }
}

/// A currency's bounds as the page lists them, in major units.
pub struct BoundRow {
    pub currency: String,
    pub minimum: String,
    pub maximum: String,
}

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    shell: Shell,
    f: Fields,
    bounds: Vec<BoundRow>,
    currencies: Vec<&'static str>,
    /// The saved values the preview shows (the script follows the fields as typed).
    name: String,
    logo: Option<String>,
    email: Option<String>,
    brand: String,
    may_write: bool,
    error: Option<String>,
    /// The field the error names, as the page's field names it (`brand_color`, `bounds`).
    error_param: String,
    notice: Option<&'static str>,
}

/// The settings page: the saved values, and a form's refusal if any (`sent` keeps what was
/// typed into the refused form).
async fn settings_page(
    v: &Visit,
    api: &Api,
    refusal: Option<Refusal>,
    sent: impl FnOnce(&mut Fields),
    notice: Option<&'static str>,
) -> Response {
    let saved = match api
        .get::<MerchantSettings>(&v.caller(), "/v1/settings")
        .await
    {
        Ok(s) => s,
        Err(r) => return refused(v, &r),
    };
    let mut f = Fields::of(&saved);
    let (status, error, error_param) = match refusal {
        Some(r) => {
            sent(&mut f);
            let param = field_of(r.param.as_deref().unwrap_or(""));
            (r.status, Some(r.message), param)
        }
        None => (StatusCode::OK, None, String::new()),
    };
    let bounds = saved
        .amount_bounds
        .iter()
        .map(|(code, b)| {
            let major = |a| Currency::parse(code).map_or_else(|| "?".into(), |c| c.major(a));
            BoundRow {
                currency: code.clone(),
                minimum: major(b.minimum),
                maximum: major(b.maximum),
            }
        })
        .collect();
    page(
        status,
        &SettingsPage {
            shell: v.shell("Settings", "settings"),
            f,
            bounds,
            currencies: Currency::codes(),
            name: saved.business_name.clone(),
            logo: saved.logo_url.clone(),
            email: saved.support_email.clone(),
            brand: saved
                .brand_color
                .clone()
                .unwrap_or_else(|| DEFAULT_BRAND.to_owned()),
            may_write: v.may("settings:write"),
            error,
            error_param,
            notice,
        },
    )
}

/// The page's field of an API parameter: `amount_bounds[USD]` is the bounds form's,
/// `redirect_allowlist[3]` the allowlist's; the dashboard's own checks name theirs.
fn field_of(param: &str) -> String {
    let head = param.split(['[', '.']).next().unwrap_or("");
    match head {
        "amount_bounds" => "bounds".to_owned(),
        "redirect_allowlist" => "allowlist".to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    saved: Option<String>,
}

pub async fn show(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<SettingsQuery>,
) -> Response {
    let notice = match q.saved.as_deref() {
        Some("branding") => Some("Branding saved: the hosted pages show it now."),
        Some("defaults") => Some("Defaults saved: new links and checkouts use them."),
        Some("bounds") => Some("Amount bounds saved."),
        Some("redirects") => Some("Redirect allowlist saved."),
        Some("subscriptions") => {
            Some("Subscription settings saved: the next failed renewal follows them.")
        }
        _ => None,
    };
    settings_page(&v, &api, None, |_| {}, notice).await
}

/// The colour the preview's button and its text take: the saved brand colour, and a text
/// colour readable on it (the hosted pages' own rule). A stylesheet rather than an inline
/// style, which the pages' CSP refuses.
pub async fn preview_css(v: Visit, Extension(api): Extension<Api>) -> Response {
    let brand = api
        .get::<MerchantSettings>(&v.caller(), "/v1/settings")
        .await
        .ok()
        .and_then(|s| s.brand_color)
        .filter(|c| is_color(c))
        .unwrap_or_else(|| DEFAULT_BRAND.to_owned());
    let css = format!(
        ":root{{--preview-brand:{brand};--preview-ink:{}}}\n",
        crate::checkout::furniture::ink_on(&brand)
    );
    let mut res = (StatusCode::OK, css).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    crate::checkout::furniture::secure(res, None, true)
}

fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
}

/// `PATCH /v1/settings` with `body`; back to the page with a notice, or the refusal.
async fn save(
    v: &Visit,
    api: &Api,
    body: &Value,
    saved: &str,
    sent: impl FnOnce(&mut Fields),
) -> Response {
    match api
        .call(&v.caller(), Method::PATCH, "/v1/settings", Some(body), None)
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/settings?saved={saved}")),
        Err(r) => settings_page(v, api, Some(r), sent, None).await,
    }
}

/// A refusal of the dashboard's own, before anything is sent (a typed amount that is not
/// one): worded and shaped as the API's are.
fn own_refusal(param: &str, message: String) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "parameter_invalid".into(),
        message,
        param: Some(param.into()),
    }
}

/// Empty is "none" (`null`), anything else the value, trimmed.
fn or_null(s: &str) -> Value {
    match s.trim() {
        "" => Value::Null,
        t => Value::String(t.to_owned()),
    }
}

#[derive(Deserialize)]
pub struct BrandingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    support_email: String,
    #[serde(default)]
    brand_color: String,
    #[serde(default)]
    logo_url: String,
}

pub async fn branding(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<BrandingForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let body = json!({
        "business_name": f.business_name.trim(),
        "support_email": or_null(&f.support_email),
        "brand_color": or_null(&f.brand_color),
        "logo_url": or_null(&f.logo_url),
    });
    save(&v, &api, &body, "branding", |k| {
        k.business_name = f.business_name;
        k.support_email = f.support_email;
        k.brand_color = f.brand_color;
        k.logo_url = f.logo_url;
    })
    .await
}

#[derive(Deserialize)]
pub struct DefaultsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    default_currency: String,
    #[serde(default)]
    default_link_expiry: String,
    #[serde(default)]
    checkout_session_ttl: String,
    #[serde(default)]
    pricing_mode: String,
}

pub async fn defaults(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<DefaultsForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let body = json!({
        "default_currency": f.default_currency.trim(),
        "default_link_expiry": or_null(&f.default_link_expiry),
        "checkout_session_ttl": f.checkout_session_ttl.trim(),
        "pricing_mode": f.pricing_mode.trim(),
    });
    save(&v, &api, &body, "defaults", |k| {
        k.default_currency = f.default_currency;
        k.default_link_expiry = f.default_link_expiry;
        k.checkout_session_ttl = f.checkout_session_ttl;
        k.pricing_mode = f.pricing_mode;
    })
    .await
}

#[derive(Deserialize)]
pub struct BoundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    minimum: String,
    #[serde(default)]
    maximum: String,
}

/// The saved bounds in minor units, as `amount_bounds` takes them (the API replaces the
/// whole map, so a change of one currency sends the others as they are).
async fn saved_bounds(v: &Visit, api: &Api) -> Result<BTreeMap<String, Value>, Refusal> {
    let s = api
        .get::<MerchantSettings>(&v.caller(), "/v1/settings")
        .await?;
    Ok(s.amount_bounds
        .into_iter()
        .map(|(code, b)| {
            (
                code,
                json!({"minimum": b.minimum.minor(), "maximum": b.maximum.minor()}),
            )
        })
        .collect())
}

/// Adds or changes one currency's bounds, typed in major units (`1.00`) and converted
/// exactly to minor units.
pub async fn set_bound(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<BoundForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let keep = |k: &mut Fields| {
        k.bound_currency = f.currency.clone();
        k.bound_minimum = f.minimum.clone();
        k.bound_maximum = f.maximum.clone();
    };
    let Some(currency) = Currency::parse(f.currency.trim()) else {
        let r = own_refusal("bound_currency", "Choose a currency".into());
        return settings_page(&v, &api, Some(r), keep, None).await;
    };
    let typed = |s: &str, param: &str, what: &str| {
        currency.parse_major(s.trim()).ok_or_else(|| {
            own_refusal(
                param,
                format!(
                    "Enter the {what} in {} with at most {} decimals, such as 1.00",
                    currency.code(),
                    currency.exponent()
                ),
            )
        })
    };
    let amounts = typed(&f.minimum, "bound_minimum", "minimum")
        .and_then(|min| Ok((min, typed(&f.maximum, "bound_maximum", "maximum")?)));
    let (minimum, maximum) = match amounts {
        Ok(m) => m,
        Err(r) => return settings_page(&v, &api, Some(r), keep, None).await,
    };
    let mut bounds = match saved_bounds(&v, &api).await {
        Ok(b) => b,
        Err(r) => return refused(&v, &r),
    };
    bounds.insert(
        currency.code().to_owned(),
        json!({"minimum": minimum.minor(), "maximum": maximum.minor()}),
    );
    save(&v, &api, &json!({"amount_bounds": bounds}), "bounds", keep).await
}

/// Removes one currency's bounds (it then takes any amount up to the global maximum).
pub async fn remove_bound(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(code): Path<String>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(currency) = Currency::parse(&code) else {
        return super::no_such(&v);
    };
    let mut bounds = match saved_bounds(&v, &api).await {
        Ok(b) => b,
        Err(r) => return refused(&v, &r),
    };
    if bounds.remove(currency.code()).is_none() {
        return see_other("/dashboard/settings");
    }
    save(
        &v,
        &api,
        &json!({"amount_bounds": bounds}),
        "bounds",
        |_| {},
    )
    .await
}

#[derive(Deserialize)]
pub struct RedirectsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    allowlist: String,
}

/// The allowlist, one host a line (blank lines skipped). A refusal of the `n`th host says
/// which line it is on.
pub async fn redirects(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<RedirectsForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let (lines, hosts): (Vec<usize>, Vec<String>) = f
        .allowlist
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .filter(|(_, h)| !h.is_empty())
        .unzip();
    let body = json!({"redirect_allowlist": hosts});
    match api
        .call(
            &v.caller(),
            Method::PATCH,
            "/v1/settings",
            Some(&body),
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/settings?saved=redirects"),
        Err(mut r) => {
            let line = r
                .param
                .as_deref()
                .and_then(|p| p.strip_prefix("redirect_allowlist["))
                .and_then(|p| p.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| lines.get(i));
            if let Some(n) = line {
                r.message = format!("Line {n}: {}", r.message);
            }
            settings_page(&v, &api, Some(r), |k| k.allowlist = f.allowlist, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct SubscriptionsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    retry_schedule: String,
    #[serde(default)]
    exhausted_action: String,
}

/// How failed renewals are retried and what happens when the retries run out: only these
/// two fields are sent, the schedule as typed (the API's words refuse a wrong one).
pub async fn subscriptions(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<SubscriptionsForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let body = json!({
        "subscription_retry_schedule": f.retry_schedule.trim(),
        "subscription_exhausted_action": f.exhausted_action.trim(),
    });
    save(&v, &api, &body, "subscriptions", |k| {
        k.retry_schedule = f.retry_schedule;
        k.exhausted_action = f.exhausted_action;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_parameters_name_the_page_fields() {
        assert_eq!(field_of("amount_bounds[USD]"), "bounds");
        assert_eq!(field_of("redirect_allowlist[2]"), "allowlist");
        assert_eq!(field_of("brand_color"), "brand_color");
        assert_eq!(field_of(""), "");
    }
}
