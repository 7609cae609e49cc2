//! The merchant dashboard: server-rendered pages behind the session cookie, every action a
//! plain form (`POST` → `303`) that works without JavaScript, under the hosted pages'
//! strict CSP. Pages read and write through the `/v1` API itself ([`client`]), as the
//! signed-in person, so the API's rules, permissions and messages are the dashboard's.
//!
//! A request without a live session goes to `/login?next=…` (`303`). Every form carries
//! the session's CSRF token (`csrf`). The mode (test or live) is a cookie the mode switch
//! sets; the API keeps the two apart, so their data never mix.

mod account;
mod catalog;
mod chart;
pub mod client;
mod customers;
mod developers;
mod events;
mod forms;
mod home;
mod link_edit;
mod link_form;
mod links;
mod payments;
mod records;
mod settings;
mod subscriptions;
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
            get(link_form::new_form).post(link_form::create),
        )
        .route("/dashboard/links/{id}", get(links::detail))
        .route("/dashboard/links/{id}/qr.svg", get(links::qr))
        .route("/dashboard/links/{id}/qr.png", get(link_edit::qr_png))
        .route(
            "/dashboard/links/{id}/edit",
            get(link_edit::edit_form).post(link_edit::update),
        )
        .route("/dashboard/links/{id}/send", post(link_edit::send))
        .route("/dashboard/links/{id}/{action}", post(links::act))
        .route("/dashboard/payments", get(payments::list))
        .route("/dashboard/payments/{id}", get(payments::detail))
        .route("/dashboard/payments/{id}/refund", post(payments::refund))
        .route(
            "/dashboard/payments/{id}/receipt",
            post(payments::resend_receipt),
        )
        .route("/dashboard/subscriptions", get(subscriptions::list))
        .route("/dashboard/subscriptions/{id}", get(subscriptions::detail))
        .route(
            "/dashboard/subscriptions/{id}/{action}",
            post(subscriptions::act),
        )
        .route("/dashboard/products", get(records::products))
        .route(
            "/dashboard/products/new",
            get(catalog::new_product).post(catalog::create_product),
        )
        .route(
            "/dashboard/products/{id}",
            get(catalog::product).post(catalog::update_product),
        )
        .route(
            "/dashboard/tax-rates",
            get(catalog::tax_rates).post(catalog::create_tax_rate),
        )
        .route("/dashboard/customers", get(records::customers))
        .route(
            "/dashboard/customers/new",
            get(customers::new_customer).post(customers::create_customer),
        )
        .route(
            "/dashboard/customers/{id}",
            get(customers::customer).post(customers::update_customer),
        )
        .route("/dashboard/orders", get(records::orders))
        .route(
            "/dashboard/orders/new",
            get(customers::new_order).post(customers::create_order),
        )
        .route("/dashboard/orders/{id}", get(customers::order))
        .route(
            "/dashboard/orders/{id}/cancel",
            post(customers::cancel_order),
        )
        .route("/dashboard/team", get(team::show))
        .route("/dashboard/team/invitations", post(team::invite))
        .route(
            "/dashboard/team/members/{id}/{action}",
            post(team::member_act),
        )
        .route(
            "/dashboard/team/invitations/{id}/revoke",
            post(team::revoke),
        )
        .route("/dashboard/account", get(account::show))
        .route(
            "/dashboard/account/password",
            post(account::change_password),
        )
        .route("/dashboard/account/totp", post(account::start_totp))
        .route(
            "/dashboard/account/totp/confirm",
            post(account::confirm_totp),
        )
        .route(
            "/dashboard/account/totp/disable",
            post(account::disable_totp),
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
        .route("/dashboard/settings", get(settings::show))
        .route(
            "/dashboard/settings/preview.css",
            get(settings::preview_css),
        )
        .route("/dashboard/settings/branding", post(settings::branding))
        .route("/dashboard/settings/defaults", post(settings::defaults))
        .route("/dashboard/settings/bounds", post(settings::set_bound))
        .route(
            "/dashboard/settings/bounds/{currency}/remove",
            post(settings::remove_bound),
        )
        .route("/dashboard/settings/redirects", post(settings::redirects))
        .route(
            "/dashboard/settings/subscriptions",
            post(settings::subscriptions),
        )
        .route(
            "/dashboard/developers/webhooks",
            post(developers::create_hook),
        )
        .route("/dashboard/developers/webhooks/{id}", get(developers::hook))
        .route(
            "/dashboard/developers/webhooks/{id}/{action}",
            post(developers::hook_act),
        )
        .route("/dashboard/developers/events", get(events::list))
        .route("/dashboard/developers/events/{id}", get(events::detail))
        .route(
            "/dashboard/developers/events/{id}/redeliver",
            post(events::redeliver),
        )
        .route("/dashboard/mode", post(switch_mode))
        .layer(axum::Extension(api))
}

const MODE_COOKIE: &str = "paylink_mode";

/// A signed-in person on a dashboard page.
pub struct Visit {
    token: String,
    /// The session as read for this page, handed to the page's API calls.
    vouched: crate::accounts::sessions::Vouched,
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
            vouched: Some(&self.vouched),
            live: self.live,
            addr: self.addr,
            user_agent: self.user_agent.as_deref(),
        }
    }

    /// The session's CSRF token (what `POST /logout` takes).
    pub fn csrf(&self) -> String {
        tokens::csrf(&self.token)
    }

    /// The token of the dashboard's own forms: the CSRF token bound to the mode the form
    /// was shown in, so a form of test data sent after a switch to live (in another tab)
    /// changes nothing.
    pub fn form_token(&self) -> String {
        form_token(&self.csrf(), self.live)
    }

    /// The `403` page, unless a form sent this session's form token for this mode.
    pub fn forged(&self, sent: &str) -> Option<Response> {
        let expected = self.form_token();
        let same = sent.len() == expected.len()
            && sent
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            None
        } else {
            Some(problem(
                self,
                StatusCode::FORBIDDEN,
                "This form expired, came from another site, or was shown in the other mode (test or live). Go back, reload the page and try again.",
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
            form: self.form_token(),
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
        let merchant_id = found.session.merchant_id.clone();
        Ok(Visit {
            token,
            user: found.user.clone(),
            role: found.role,
            merchant,
            merchant_id,
            vouched: crate::accounts::sessions::Vouched::read(found),
            live: cookie(parts, MODE_COOKIE).as_deref() == Some("live"),
            addr,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(300).collect()),
            // Where the mode switch comes back to: the page, if a GET shows it (after a
            // form's answer, the section's list would do; the dashboard's home does).
            here: if parts.method == axum::http::Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| "/dashboard".to_owned(), |p| p.as_str().to_owned())
            } else {
                "/dashboard".to_owned()
            },
        })
    }
}

/// The form token of the session whose CSRF token is `csrf`, in a mode (tests compute it too).
pub fn form_token(csrf: &str, live: bool) -> String {
    use sha2::{Digest, Sha256};
    let mode = if live { "live" } else { "test" };
    hex::encode(Sha256::digest(format!(
        "paylink-dashboard-form\0{mode}\0{csrf}"
    )))
}

/// An id as the path gave it, if it looks like one of ours (`prefix_` and letters or
/// digits): nothing else is ever put into a `/v1` path.
pub fn id(raw: &str) -> Option<&str> {
    let (prefix, rest) = raw.split_once('_')?;
    let ok = (1..=8).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase())
        && (1..=64).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(raw)
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
    /// The token of the dashboard's forms ([`Visit::form_token`]).
    pub form: String,
    pub here: String,
}

/// A page as the answer: its HTML and the pages' security headers.
pub fn page(status: StatusCode, t: &impl Template) -> Response {
    only_own_forms(secure(html(status, t.render()), None, true))
}

/// The dashboard's forms post to the dashboard only: its CSP's `form-action` is `'self'`
/// (the hosted pages' also allows a merchant's https return addresses).
fn only_own_forms(mut res: Response) -> Response {
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace("form-action 'self' https:", "form-action 'self'"));
    if let Some(v) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
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

/// The `404` page of an id that is not one.
pub fn no_such(v: &Visit) -> Response {
    problem(v, StatusCode::NOT_FOUND, "There is no such page.")
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

/// A form that carries nothing but its token (an action's button), and the page's nonce
/// where a second send must not act twice.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub nonce: String,
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
    let back = Some(f.back.as_str())
        .filter(|b| b.len() <= 512)
        .filter(|b| {
            b == &"/dashboard" || b.starts_with("/dashboard/") || b.starts_with("/dashboard?")
        })
        .filter(|b| !b.contains("//") && !b.contains('\\') && !b.chars().any(char::is_control))
        .unwrap_or("/dashboard");
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
