//! The person's own account: who they are, where they are signed in (ending any other
//! session), and their password (changing it ends every other session).

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use paylink_domain::time::Timestamp;

use super::client::{Api, Page};
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

#[derive(Template)]
#[template(path = "dashboard/account.html")]
struct AccountPage {
    shell: Shell,
    email: String,
    totp: bool,
    sessions: Vec<SessionRow>,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn account_page(
    v: &Visit,
    api: &Api,
    error: Option<(StatusCode, String)>,
    notice: Option<&'static str>,
) -> Response {
    let sessions = match api
        .get::<Page<SessionIn>>(&v.caller(), "/v1/me/sessions")
        .await
    {
        Ok(p) => p.data,
        Err(r) => return refused(v, &r),
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        &AccountPage {
            shell: v.shell("Your account", "account"),
            email: v.user.email.clone(),
            totp: v.user.totp_secret.is_some(),
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
            notice,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    changed: Option<String>,
}

pub async fn show(
    v: Visit,
    Extension(api): Extension<Api>,
    axum::extract::Query(q): axum::extract::Query<AccountQuery>,
) -> Response {
    let notice = q
        .changed
        .is_some()
        .then_some("Your password is changed; every other session has ended.");
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
        Err(r) => account_page(&v, &api, Some((r.status, r.message)), None).await,
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
