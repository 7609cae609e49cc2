//! The merchant dashboard: server-rendered pages behind the session cookie, every action a
//! plain form (`POST` → `303`) that works without JavaScript, under the hosted pages'
//! strict CSP. Pages read and write through the `/v1` API itself ([`client`]), as the
//! signed-in person, so the API's rules, permissions and messages are the dashboard's.
//!
//! A request without a live session goes to `/login?next=…` (`303`). Every form carries
//! the session's CSRF token (`csrf`). The mode (test or live) is a cookie the mode switch
//! sets; the API keeps the two apart, so their data never mix.

mod account;
mod chart;
pub mod client;
mod developers;
mod home;
mod links;
mod payments;
mod records;
mod team;
mod view;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use paylink_domain::access::Role;
use paylink_domain::id::MerchantId;
use paylink_domain::time::Timestamp;
use paylink_store::User;

use crate::accounts::tokens;
use crate::checkout::furniture::{html, secure};
use crate::state::AppState;
use client::{Api, Caller, Refusal};

pub fn routes(api: Api) -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home::home))
        .route("/dashboard/links", get(links::list))
        .route(
            "/dashboard/links/new",
            get(links::new_form).post(links::create),
        )
        .route("/dashboard/links/{id}", get(links::detail))
        .route("/dashboard/links/{id}/qr.svg", get(links::qr))
        .route("/dashboard/links/{id}/{action}", post(links::act))
        .route("/dashboard/payments", get(payments::list))
        .route("/dashboard/payments/{id}", get(payments::detail))
        .route("/dashboard/payments/{id}/refund", post(payments::refund))
        .route("/dashboard/products", get(records::products))
        .route("/dashboard/customers", get(records::customers))
        .route("/dashboard/orders", get(records::orders))
        .route("/dashboard/team", get(team::show))
        .route("/dashboard/team/invitations", post(team::invite))
        .route("/dashboard/team/members/{id}/{action}", post(team::act))
        .route("/dashboard/team/invitations/{id}/{action}", post(team::act))
        .route("/dashboard/account", get(account::show))
        .route(
            "/dashboard/account/password",
            post(account::change_password),
        )
        .route(
            "/dashboard/account/sessions/{id}/end",
            post(account::end_session),
        )
        .route("/dashboard/developers", get(developers::show))
        .route("/dashboard/developers/keys", post(developers::create_key))
        .route(
            "/dashboard/developers/keys/{id}/revoke",
            post(developers::revoke_key),
        )
        .route("/dashboard/mode", post(switch_mode))
        .layer(axum::Extension(api))
}

const MODE_COOKIE: &str = "paylink_mode";

/// A signed-in person on a dashboard page.
pub struct Visit {
    token: String,
    pub user: User,
    pub role: Role,
    pub merchant: String,
    pub merchant_id: MerchantId,
    pub live: bool,
    addr: SocketAddr,
    user_agent: Option<String>,
    /// The page's path and query (where the mode switch comes back to).
    pub here: String,
}

impl Visit {
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            token: &self.token,
            live: self.live,
            addr: self.addr,
            user_agent: self.user_agent.as_deref(),
        }
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf(&self) -> String {
        tokens::csrf(&self.token)
    }

    /// The `403` page, unless a form sent this session's CSRF token.
    pub fn forged(&self, sent: &str) -> Option<Response> {
        if tokens::csrf_matches(&self.token, Some(sent)) {
            None
        } else {
            Some(problem(
                self,
                StatusCode::FORBIDDEN,
                "This form expired or came from another site. Go back, reload the page and try again.",
            ))
        }
    }

    /// The frame of every page.
    pub fn shell(&self, title: impl Into<String>, section: &'static str) -> Shell {
        Shell {
            title: title.into(),
            section,
            user: self.user.name.clone(),
            merchant: self.merchant.clone(),
            role: self.role,
            live: self.live,
            csrf: self.csrf(),
            here: self.here.clone(),
        }
    }

    /// Whether the person's role holds `scope` (what a page offers; the API decides).
    pub fn may(&self, scope: &str) -> bool {
        self.role.holds(scope)
    }
}

fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn to_login(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map_or("/dashboard", |p| p.as_str());
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = tokens::cookie_token(&parts.headers).filter(|t| tokens::well_formed(t))
        else {
            return Err(to_login(parts));
        };
        let found = match state
            .store
            .touch_session(&tokens::hash(&token), Timestamp::now())
            .await
        {
            Ok(Some(found)) => found,
            Ok(None) => return Err(to_login(parts)),
            Err(e) => {
                tracing::error!(error = %e, "reading a dashboard session failed");
                return Err(plain_problem(StatusCode::SERVICE_UNAVAILABLE));
            }
        };
        let merchant = match state.public_settings(&found.session.merchant_id).await {
            Ok(s) => s.business_name.clone(),
            Err(_) => found.session.merchant_id.to_string(),
        };
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        Ok(Visit {
            token,
            user: found.user,
            role: found.role,
            merchant,
            merchant_id: found.session.merchant_id.clone(),
            live: cookie(parts, MODE_COOKIE).as_deref() == Some("live"),
            addr,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(300).collect()),
            here: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/dashboard".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

/// The frame around every page: who, which merchant, which mode, and the navigation.
pub struct Shell {
    pub title: String,
    pub section: &'static str,
    pub user: String,
    pub merchant: String,
    pub role: Role,
    pub live: bool,
    pub csrf: String,
    pub here: String,
}

/// A page as the answer: its HTML and the pages' security headers.
pub fn page(status: StatusCode, t: &impl Template) -> Response {
    secure(html(status, t.render()), None, true)
}

pub fn see_other(to: &str) -> Response {
    secure(
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response(),
        None,
        true,
    )
}

#[derive(Template)]
#[template(path = "dashboard/problem.html")]
struct Problem {
    shell: Shell,
    message: String,
}

/// A page that says what went wrong, in the frame.
pub fn problem(v: &Visit, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        _ => "Something went wrong",
    };
    page(
        status,
        &Problem {
            shell: v.shell(title, ""),
            message: message.to_owned(),
        },
    )
}

/// The API's refusal as a page.
pub fn refused(v: &Visit, r: &Refusal) -> Response {
    problem(v, r.status, &r.message)
}

fn plain_problem(status: StatusCode) -> Response {
    secure(
        (status, "The dashboard is unavailable; try again shortly").into_response(),
        None,
        true,
    )
}

#[derive(Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    back: String,
}

/// Switches between test and live data: a cookie, then back to the page.
async fn switch_mode(State(state): State<AppState>, v: Visit, Form(f): Form<ModeForm>) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let live = f.mode == "live";
    let back = if f.back.starts_with("/dashboard") && !f.back.contains("//") {
        f.back.as_str()
    } else {
        "/dashboard"
    };
    let mut res = see_other(back);
    let c = format!(
        "{MODE_COOKIE}={}; HttpOnly; SameSite=Lax; Path=/dashboard; Max-Age=31536000{}",
        if live { "live" } else { "test" },
        if state.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(c) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

pub async fn stylesheet() -> Response {
    crate::checkout::furniture::static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/dashboard.css"),
    )
}

pub async fn script() -> Response {
    crate::checkout::furniture::static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard.js"),
    )
}
