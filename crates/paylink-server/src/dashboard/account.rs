//! The person's own account: who they are, where they are signed in (ending any other
//! session), their password (changing it ends every other session) and their second
//! factor: enrolled by scanning a QR code and confirming a current code with the password,
//! its recovery codes shown once, and turned off with the password.

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Value};

use paylink_domain::time::Timestamp;

use super::client::{Api, Page, Refusal};
use super::view::when;
use super::{page, refused, see_other, Shell, Visit};

#[derive(Deserialize)]
struct SessionIn {
    id: String,
    last_seen_at: Timestamp,
    user_agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub current: bool,
}

/// A second factor being enrolled: the secret as text and as a QR code, and the sealed
/// enrolment the confirmation sends back.
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub enrollment: String,
    /// The QR code of `otpauth_url`, as inline SVG (made here, of the API's answer).
    pub qr: String,
}

/// What an answer adds to the page: the API's refusal (and the field it names), a second
/// factor being enrolled, or the recovery codes of one just turned on.
#[derive(Default)]
struct Extra {
    refusal: Option<Refusal>,
    enrolment: Option<Enrolment>,
    recovery_codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "dashboard/account.html")]
struct AccountPage {
    shell: Shell,
    email: String,
    totp: bool,
    sessions: Vec<SessionRow>,
    error: Option<String>,
    error_param: String,
    notice: Option<&'static str>,
    enrolment: Option<Enrolment>,
    recovery_codes: Vec<String>,
}

async fn account_page(
    v: &Visit,
    api: &Api,
    error: Option<(StatusCode, String)>,
    notice: Option<&'static str>,
) -> Response {
    let extra = Extra {
        refusal: error.map(|(status, message)| Refusal {
            status,
            code: String::new(),
            message,
            param: None,
        }),
        ..Extra::default()
    };
    account_page_with(v, api, extra, notice).await
}

async fn account_page_with(
    v: &Visit,
    api: &Api,
    extra: Extra,
    notice: Option<&'static str>,
) -> Response {
    let sessions = match api
        .get::<Page<SessionIn>>(&v.caller(), "/v1/me/sessions")
        .await
    {
        Ok(p) => p.data,
        Err(r) => return refused(v, &r),
    };
    let (status, error, error_param) = match extra.refusal {
        Some(r) => (r.status, Some(r.message), r.param.unwrap_or_default()),
        None => (StatusCode::OK, None, String::new()),
    };
    page(
        status,
        &AccountPage {
            shell: v.shell("Your account", "account"),
            email: v.user.email.clone(),
            // Read again: the answer of a form that just turned it on or off says so.
            totp: match api.get::<Value>(&v.caller(), "/v1/me").await {
                Ok(me) => me
                    .pointer("/totp_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(v.user.totp_secret.is_some()),
                Err(_) => v.user.totp_secret.is_some(),
            },
            sessions: sessions
                .into_iter()
                .map(|s| SessionRow {
                    device: s.user_agent.unwrap_or_else(|| "Unknown device".into()),
                    ip: s.ip.unwrap_or_default(),
                    last_seen: when(s.last_seen_at),
                    current: s.current,
                    id: s.id,
                })
                .collect(),
            error,
            error_param,
            notice,
            enrolment: extra.enrolment,
            recovery_codes: extra.recovery_codes,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    changed: Option<String>,
    totp: Option<String>,
}

pub async fn show(
    v: Visit,
    Extension(api): Extension<Api>,
    axum::extract::Query(q): axum::extract::Query<AccountQuery>,
) -> Response {
    let notice = match (q.changed.is_some(), q.totp.as_deref()) {
        (true, _) => Some("Your password is changed; every other session has ended."),
        (false, Some("off")) => {
            Some("Your second factor is off: signing in needs only your password.")
        }
        _ => None,
    };
    account_page(&v, &api, None, notice).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let body = json!({"current_password": f.current_password, "new_password": f.new_password});
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/me/password",
            Some(&body),
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/account?changed=1"),
        Err(r) => account_page_with(&v, &api, refusal(r), None).await,
    }
}

/// Ends one of the person's sessions (their own only: the API's rule).
pub async fn end_session(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .call(
            &v.caller(),
            Method::DELETE,
            &format!("/v1/me/sessions/{id}"),
            None,
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/account"),
        Err(r) => account_page(&v, &api, Some((r.status, r.message)), None).await,
    }
}

/// Starts enrolling a second factor: the API's new secret, shown as a QR code and as text,
/// with the form that confirms it. Nothing is on until a current code confirms it.
pub async fn start_totp(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let e = match api
        .call(&v.caller(), Method::POST, "/v1/me/totp", None, None)
        .await
    {
        Ok(e) => e,
        Err(r) => return account_page_with(&v, &api, refusal(r), None).await,
    };
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let enrolment = enrolment(text("secret"), text("otpauth_url"), text("enrollment"));
    let extra = Extra {
        enrolment,
        ..Extra::default()
    };
    account_page_with(&v, &api, extra, None).await
}

fn refusal(r: Refusal) -> Extra {
    Extra {
        refusal: Some(r),
        ..Extra::default()
    }
}

/// The enrolment as the page shows it, if its parts look like the API's (they come back
/// from the form when a confirmation is refused, so they are checked before use).
fn enrolment(secret: String, otpauth_url: String, enrollment: String) -> Option<Enrolment> {
    let ok = (16..=128).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b) || b == b'=')
        && otpauth_url.len() <= 1024
        && otpauth_url.starts_with("otpauth://totp/")
        && !otpauth_url.chars().any(char::is_control)
        && (1..=512).contains(&enrollment.len());
    if !ok {
        return None;
    }
    let qr =
        qrcode::QrCode::with_error_correction_level(otpauth_url.as_bytes(), qrcode::EcLevel::M)
            .ok()?
            .render::<qrcode::render::svg::Color<'_>>()
            .quiet_zone(true)
            .build();
    // Inline: no XML declaration, and a name for screen readers.
    let qr = qr
        .split_once("<svg ")
        .map(|(_, rest)| {
            format!("<svg role=\"img\" aria-label=\"QR code of the secret for your authenticator app\" {rest}")
        })
        .unwrap_or_default();
    Some(Enrolment {
        secret,
        otpauth_url,
        enrollment,
        qr,
    })
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    otpauth_url: String,
    #[serde(default)]
    enrollment: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// Turns the second factor on with a current code and the password, and shows the
/// recovery codes on this answer only. A refusal shows the same enrolment again.
pub async fn confirm_totp(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let code: String = f.code.chars().filter(|c| !c.is_whitespace()).collect();
    let body = json!({"enrollment": f.enrollment, "code": code, "password": f.password});
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/me/totp/confirm",
            Some(&body),
            None,
        )
        .await
    {
        Ok(out) => {
            let codes = out
                .get("recovery_codes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let extra = Extra {
                recovery_codes: codes,
                ..Extra::default()
            };
            account_page_with(
                &v,
                &api,
                extra,
                Some("Your second factor is on: signing in now needs a code from your app."),
            )
            .await
        }
        Err(r) => {
            let extra = Extra {
                // Already on (another tab): nothing to confirm any more.
                enrolment: (r.code != "totp_already_enabled")
                    .then(|| enrolment(f.secret, f.otpauth_url, f.enrollment))
                    .flatten(),
                refusal: Some(Refusal {
                    param: r.param.as_deref().map(|p| format!("totp_{p}")),
                    ..r
                }),
                ..Extra::default()
            };
            account_page_with(&v, &api, extra, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Turns the second factor off (the API asks for the password).
pub async fn disable_totp(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<DisableForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let body = json!({"password": f.password});
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/me/totp/disable",
            Some(&body),
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/account?totp=off"),
        Err(r) => {
            let r = Refusal {
                param: r.param.as_deref().map(|p| format!("disable_{p}")),
                ..r
            };
            account_page_with(&v, &api, refusal(r), None).await
        }
    }
}
