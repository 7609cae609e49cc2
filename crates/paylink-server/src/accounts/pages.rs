//! The server-rendered account forms: `/login` (sets the session cookie, `303` to
//! `/dashboard`), `/forgot`, `/reset/{token}`, `/invite/{token}` and `POST /logout`. They
//! work without JavaScript, under the hosted pages' strict CSP.
//!
//! Each form carries a token that must equal the `paylink_form` cookie set with the page
//! (a double submit), so another site cannot post the forms in a visitor's name — not even
//! `/login`, which would otherwise sign the visitor into the attacker's account.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use paylink_domain::id::random_base62;
use paylink_domain::time::Timestamp;
use paylink_store::SESSION_MAX_SECS;

use super::{recovery, sessions, tokens, Origin};
use crate::checkout::furniture::{html, secure};
use crate::state::AppState;

const FORM_COOKIE: &str = "paylink_form";

struct Field {
    required: bool,
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
}

fn field(name: &'static str, label: &'static str, kind: &'static str, ac: &'static str) -> Field {
    Field {
        required: true,
        name,
        label,
        kind,
        autocomplete: ac,
        value: String::new(),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    title: &'static str,
    intro: Option<String>,
    error: Option<String>,
    action: String,
    fields: Vec<Field>,
    submit: &'static str,
    form_token: String,
    links: Vec<(&'static str, &'static str)>,
}

impl AccountPage {
    fn new(title: &'static str, action: String, submit: &'static str) -> Self {
        Self {
            title,
            intro: None,
            error: None,
            action,
            fields: Vec::new(),
            submit,
            form_token: random_base62(),
            links: Vec::new(),
        }
    }

    /// The page again, saying its form expired (its token did not match the cookie's).
    fn expired(mut self, secure_cookie: bool) -> Response {
        self.error = Some("This form expired; please try again".into());
        self.respond(StatusCode::FORBIDDEN, secure_cookie)
    }

    /// The page, its form token's cookie and the security headers.
    fn respond(self, status: StatusCode, secure_cookie: bool) -> Response {
        let cookie = format!(
            "{FORM_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600{}",
            self.form_token,
            if secure_cookie { "; Secure" } else { "" }
        );
        let mut res = secure(html(status, self.render()), None, true);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        res
    }
}

fn https(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// Whether the form's token is the one its page set in the cookie.
fn form_ok(headers: &HeaderMap, sent: &str) -> bool {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == FORM_COOKIE)
        .map(|(_, v)| v.to_owned());
    cookie.is_some_and(|c| !c.is_empty() && c == sent)
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    secure(res, None, true)
}

/// Where a sign-in goes on to: `next` when it points inside the dashboard (never to
/// another site: no `//`, no backslash), else `/dashboard`.
pub fn next_of(query: Option<&str>) -> Option<String> {
    let next = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())?;
    let inside = next.starts_with("/dashboard")
        && matches!(next.as_bytes().get(10), None | Some(b'/' | b'?'))
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 512
        && !next.chars().any(char::is_control);
    inside.then_some(next)
}

fn login_page(error: Option<String>, email: &str, next: Option<&str>) -> AccountPage {
    let action = match next {
        Some(n) => format!(
            "/login?next={}",
            form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ),
        None => "/login".into(),
    };
    let mut p = AccountPage::new("Sign in", action, "Sign in");
    let mut e = field("email", "E-mail", "email", "username");
    e.value = email.to_owned();
    let mut code = field(
        "totp",
        "Authentication code (if you turned it on)",
        "text",
        "one-time-code",
    );
    code.required = false;
    p.fields = vec![
        e,
        field("password", "Password", "password", "current-password"),
        code,
    ];
    p.error = error;
    p.links = vec![("/forgot", "Forgot your password?")];
    p
}

pub async fn login_form(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let next = next_of(q.as_deref());
    login_page(None, "", next.as_deref()).respond(StatusCode::OK, https(&state))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    form_token: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let secure_cookie = https(&state);
    let next = next_of(q.as_deref());
    if !form_ok(&headers, &f.form_token) {
        return login_page(None, &f.email, next.as_deref()).expired(secure_cookie);
    }
    let origin = Origin::of(addr.ip(), &headers);
    let code = Some(f.totp.trim()).filter(|c| !c.is_empty());
    let signed = sessions::sign_in(&state, &f.email, &f.password, code, None, &origin).await;
    match signed {
        Ok((_, token, _)) => see_other(
            next.as_deref().unwrap_or("/dashboard"),
            Some(tokens::set_cookie(
                Some(&token),
                SESSION_MAX_SECS,
                secure_cookie,
            )),
        ),
        Err(e) => {
            login_page(Some(e.message), &f.email, next.as_deref()).respond(e.status, secure_cookie)
        }
    }
}

fn forgot_page() -> AccountPage {
    let mut p = AccountPage::new("Reset your password", "/forgot".into(), "Send a link");
    p.intro = Some("We'll e-mail you a link to choose a new password.".into());
    p.fields = vec![field("email", "E-mail", "email", "username")];
    p.links = vec![("/login", "Back to sign in")];
    p
}

pub async fn forgot_form(State(state): State<AppState>) -> Response {
    forgot_page().respond(StatusCode::OK, https(&state))
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    form_token: String,
}

pub async fn forgot_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> Response {
    if !form_ok(&headers, &f.form_token) {
        return forgot_page().expired(https(&state));
    }
    let origin = Origin::of(addr.ip(), &headers);
    let mut p = AccountPage::new("Check your e-mail", String::new(), "");
    match state.logins.reset_asked(&f.email, origin.ip).await {
        Ok(()) => {
            recovery::reset_after_answering(&state, f.email.clone(), origin);
            p.intro = Some(
                "If an account uses this address, a link to reset its password is on its way. It works once, within an hour."
                    .into(),
            );
        }
        Err(e) => p.error = Some(e.message),
    }
    p.links = vec![("/login", "Back to sign in")];
    p.respond(StatusCode::OK, https(&state))
}

fn reset_page(token: &str) -> AccountPage {
    let mut p = AccountPage::new(
        "Choose a new password",
        format!("/reset/{token}"),
        "Set password",
    );
    p.intro = Some("At least 12 characters; a phrase of unrelated words works well.".into());
    p.fields = vec![field(
        "password",
        "New password",
        "password",
        "new-password",
    )];
    p
}

fn invalid_link_page(what: &'static str) -> AccountPage {
    let mut p = AccountPage::new(what, String::new(), "");
    p.error = Some("This link is invalid, used or expired. Ask for a new one.".into());
    p.links = vec![("/login", "Sign in"), ("/forgot", "Reset your password")];
    p
}

pub async fn reset_form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !tokens::well_formed(&token) {
        return invalid_link_page("Reset link").respond(StatusCode::NOT_FOUND, https(&state));
    }
    reset_page(&token).respond(StatusCode::OK, https(&state))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    form_token: String,
}

pub async fn reset_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let secure_cookie = https(&state);
    if !form_ok(&headers, &f.form_token) {
        return reset_page(&token).expired(secure_cookie);
    }
    let origin = Origin::of(addr.ip(), &headers);
    match recovery::do_reset(&state, &token, f.password, &origin).await {
        Ok(_) => {
            let mut p = AccountPage::new("Password changed", String::new(), "");
            p.intro = Some("Every session of your account has ended. Sign in again.".into());
            p.links = vec![("/login", "Sign in")];
            p.respond(StatusCode::OK, secure_cookie)
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            invalid_link_page("Reset link").respond(StatusCode::NOT_FOUND, secure_cookie)
        }
        Err(e) => {
            let mut p = reset_page(&token);
            p.error = Some(e.message);
            p.respond(e.status, secure_cookie)
        }
    }
}

async fn invite_page(state: &AppState, token: &str) -> Option<AccountPage> {
    if !tokens::well_formed(token) {
        return None;
    }
    let inv = state
        .store
        .find_invitation(&tokens::hash(token), Timestamp::now())
        .await
        .ok()??;
    let account = state
        .store
        .find_user_by_email(&inv.email)
        .await
        .ok()
        .flatten();
    let existing = account.is_some();
    let second_factor = account.is_some_and(|u| u.totp_secret.is_some());
    let merchant = state.public_settings(&inv.merchant_id).await.ok()?;
    let mut p = AccountPage::new(
        "Join the team",
        format!("/invite/{token}"),
        "Accept invitation",
    );
    p.intro = Some(format!(
        "{} invites {} to join as {}.{}",
        merchant.business_name,
        inv.email,
        inv.role,
        if existing {
            " Enter your Paylink password to accept."
        } else {
            " Choose your name and a password (at least 12 characters)."
        }
    ));
    p.fields = if existing {
        let mut f = vec![field(
            "password",
            "Password",
            "password",
            "current-password",
        )];
        if second_factor {
            f.push(field("totp", "Authenticator code", "text", "one-time-code"));
        }
        f
    } else {
        vec![
            field("name", "Your name", "text", "name"),
            field("password", "Password", "password", "new-password"),
        ]
    };
    Some(p)
}

pub async fn invite_form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match invite_page(&state, &token).await {
        Some(p) => p.respond(StatusCode::OK, https(&state)),
        None => invalid_link_page("Invitation").respond(StatusCode::NOT_FOUND, https(&state)),
    }
}

pub async fn invite_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let secure_cookie = https(&state);
    let Some(mut page) = invite_page(&state, &token).await else {
        return invalid_link_page("Invitation").respond(StatusCode::NOT_FOUND, secure_cookie);
    };
    if !form_ok(&headers, &f.form_token) {
        return page.expired(secure_cookie);
    }
    let origin = Origin::of(addr.ip(), &headers);
    let totp = f.totp.as_deref().filter(|c| !c.is_empty());
    match recovery::do_accept(&state, &token, f.name, f.password, totp, &origin).await {
        Ok(_) => see_other("/login", None),
        Err(e) => {
            page.error = Some(e.message);
            page.respond(e.status, secure_cookie)
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Signs out the cookie's session: the form carries the session's CSRF token.
pub async fn logout_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let Some(token) = tokens::cookie_token(&headers) else {
        return see_other("/login", None);
    };
    if !tokens::csrf_matches(&token, Some(&f.csrf)) {
        return super::csrf_failed().into_response();
    }
    let origin = Origin::of(addr.ip(), &headers);
    let _ = sessions::end(&state, &token, &origin).await;
    see_other("/login", Some(tokens::set_cookie(None, 0, https(&state))))
}

#[cfg(test)]
mod tests {
    use super::next_of;

    #[test]
    fn next_stays_inside_the_dashboard() {
        let n = |q: &str| next_of(Some(q));
        assert_eq!(
            n("next=/dashboard/links").as_deref(),
            Some("/dashboard/links")
        );
        assert_eq!(
            n("next=%2Fdashboard%3Fa%3D1").as_deref(),
            Some("/dashboard?a=1")
        );
        assert_eq!(n("next=/dashboard").as_deref(), Some("/dashboard"));
        for bad in [
            "next=https://evil.example/dashboard",
            "next=//evil.example",
            "next=/dashboardx",
            "next=/dashboard//evil.example",
            "next=/dashboard/%5C%5Cevil",
            "next=/v1/me",
            "other=/dashboard",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
        assert_eq!(next_of(None), None);
    }
}
