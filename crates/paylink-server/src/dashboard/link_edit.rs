//! A link's edit form (`PATCH /v1/payment_links/{id}`), its "send by e-mail" form
//! (`POST /v1/payment_links/{id}/send`) and its QR code as PNG. The API's rules decide what
//! may change (a link's price after it has been paid, say), and its messages are shown.

use askama::Template;
use axum::extract::Path;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Value};

use paylink_domain::link::PaymentLink;

use super::client::{Api, Refusal};
use super::forms::{invalid, text_or_null, Shown};
use super::link_form::utc_minute;
use super::{page, refused, see_other, Shell, Visit};

#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Only for a link of one custom amount.
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub payments_limit: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub confirmation_message: String,
    #[serde(default)]
    pub inactive_message: String,
    /// What the form showed ([`Shown`]).
    #[serde(default)]
    pub shown: String,
}

#[derive(Template)]
#[template(path = "dashboard/link_edit.html")]
struct EditPage {
    shell: Shell,
    id: String,
    f: EditForm,
    /// The currency of the amount field, when the link has one.
    amount_currency: Option<String>,
    /// An order link is paid once: its limit is not the merchant's to change.
    limit_fixed: bool,
    error: Option<String>,
    error_param: String,
}

/// A link of one custom line: its amount can be typed.
fn single_amount(l: &PaymentLink) -> Option<String> {
    match (l.kind.as_str(), l.line_items.as_slice()) {
        ("custom", [only]) => Some(l.currency.major(only.unit_amount)),
        _ => None,
    }
}

fn form_of(l: &PaymentLink) -> EditForm {
    let mut f = EditForm {
        title: l.title.clone(),
        description: l.description.clone().unwrap_or_default(),
        amount: single_amount(l).unwrap_or_default(),
        payments_limit: l.payments_limit.map_or_else(String::new, |n| n.to_string()),
        expires_at: l
            .expires_at
            .map(|t| t.to_rfc3339().chars().take(16).collect())
            .unwrap_or_default(),
        confirmation_message: l.confirmation_message.clone().unwrap_or_default(),
        inactive_message: l.inactive_message.clone().unwrap_or_default(),
        ..EditForm::default()
    };
    f.shown = Shown::encode(&[
        ("title", &f.title),
        ("description", &f.description),
        ("amount", &f.amount),
        ("payments_limit", &f.payments_limit),
        ("expires_at", &f.expires_at),
        ("confirmation_message", &f.confirmation_message),
        ("inactive_message", &f.inactive_message),
    ]);
    f
}

fn edit_page(v: &Visit, link: &PaymentLink, f: EditForm, error: Option<Refusal>) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |r| r.status);
    page(
        status,
        &EditPage {
            shell: v.shell(format!("Edit {}", link.title), "links"),
            id: link.id.to_string(),
            amount_currency: single_amount(link).map(|_| link.currency.code().to_owned()),
            limit_fixed: link.kind.as_str() == "order",
            error_param: error
                .as_ref()
                .and_then(|r| r.param.clone())
                .unwrap_or_default(),
            error: error.map(|r| r.message),
            f,
        },
    )
}

async fn the_link(v: &Visit, api: &Api, raw: &str) -> Result<PaymentLink, Response> {
    let Some(id) = super::id(raw) else {
        return Err(super::no_such(v));
    };
    api.get::<PaymentLink>(&v.caller(), &format!("/v1/payment_links/{id}"))
        .await
        .map_err(|r| refused(v, &r))
}

pub async fn edit_form(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
) -> Response {
    if !v.may("payment_links:write") {
        return super::problem(
            &v,
            StatusCode::FORBIDDEN,
            &format!("The `{}` role may not change payment links.", v.role),
        );
    }
    match the_link(&v, &api, &id).await {
        Ok(l) => edit_page(&v, &l, form_of(&l), None),
        Err(r) => r,
    }
}

/// The patch: the fields the person changed ([`Shown`]); an emptied one is cleared. The
/// price is compared as an amount ("25" is "25.00"); an expiry left as shown is not sent
/// again (the form shows it to the minute, and an expired link keeps its expiry while its
/// messages change).
fn patch(l: &PaymentLink, f: &EditForm) -> Result<Value, Refusal> {
    let shown = Shown::parse(&f.shown);
    let limit = f.payments_limit.trim();
    let limit = if limit.is_empty() {
        Value::Null
    } else {
        json!(limit.parse::<u32>().map_err(|_| invalid(
            "Enter the payments limit as a whole number",
            "payments_limit"
        ))?)
    };
    let expires = f.expires_at.trim();
    let expires = if expires.is_empty() {
        Value::Null
    } else {
        json!(utc_minute(expires)
            .ok_or_else(|| invalid("Enter the expiry as a date and time (UTC)", "expires_at"))?
            .to_rfc3339())
    };
    let mut b = shown.body(vec![
        ("title", &f.title, json!(f.title.trim())),
        ("description", &f.description, text_or_null(&f.description)),
        (
            "confirmation_message",
            &f.confirmation_message,
            text_or_null(&f.confirmation_message),
        ),
        (
            "inactive_message",
            &f.inactive_message,
            text_or_null(&f.inactive_message),
        ),
        ("payments_limit", &f.payments_limit, limit),
        ("expires_at", &f.expires_at, expires),
    ]);
    if l.kind.as_str() == "order" {
        b.remove("payments_limit");
    }
    if single_amount(l).is_some() {
        let typed = l.currency.parse_major(f.amount.trim()).ok_or_else(|| {
            invalid(
                format!(
                    "Enter the amount in {} with at most {} decimals, such as 25.00",
                    l.currency.code(),
                    l.currency.exponent()
                ),
                "amount",
            )
        })?;
        let was = shown.get("amount").and_then(|a| l.currency.parse_major(a));
        if was != Some(typed) {
            b.insert("amount".into(), json!(typed.minor()));
        }
    }
    Ok(Value::Object(b))
}

/// `PATCH /v1/payment_links/{id}` (the same form twice changes nothing more).
pub async fn update(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    if !v.may("payment_links:write") {
        return super::problem(
            &v,
            StatusCode::FORBIDDEN,
            &format!("The `{}` role may not change payment links.", v.role),
        );
    }
    let link = match the_link(&v, &api, &id).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = match patch(&link, &f) {
        Ok(b) => b,
        Err(r) => return edit_page(&v, &link, f, Some(r)),
    };
    let path = format!("/v1/payment_links/{}", link.id);
    match api
        .call(&v.caller(), Method::PATCH, &path, Some(&body), None)
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/links/{}", link.id)),
        Err(r) => edit_page(&v, &link, f, Some(r)),
    }
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    /// One or more addresses, separated by commas or new lines.
    #[serde(default)]
    to: String,
    #[serde(default)]
    message: String,
}

/// E-mails the link (`POST /v1/payment_links/{id}/send`); back on the link's page, which
/// says it was sent or why not.
pub async fn send(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<SendForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let recipients: Vec<Value> =
        f.to.split([',', '\n', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(51)
            .map(|e| json!({ "email": e }))
            .collect();
    let message = super::view::clean_text(&f.message, 1000);
    let body = json!({
        "recipients": recipients,
        "message": Some(message).filter(|m| !m.is_empty()),
    });
    let nonce = super::forms::nonce(&f.nonce);
    let key = Some(nonce.as_str());
    let path = format!("/v1/payment_links/{id}/send");
    match api
        .call(&v.caller(), Method::POST, &path, Some(&body), key)
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/links/{id}?sent={}", recipients.len())),
        Err(r) => {
            let notice = super::links::Notice {
                sent: None,
                error: Some(r),
                to: f.to.chars().take(5000).collect(),
                message: f.message.chars().take(1000).collect(),
            };
            super::links::detail_page(&v, &api, &id, notice).await
        }
    }
}

/// The link's QR code as PNG, through the API as the person.
pub async fn qr_png(v: Visit, Extension(api): Extension<Api>, Path(id): Path<String>) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .raw(&v.caller(), &format!("/v1/payment_links/{id}/qr.png"))
        .await
    {
        Ok(png) => {
            let mut res = png.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            crate::checkout::furniture::secure(res, None, true)
        }
        Err(r) => refused(&v, &r),
    }
}
