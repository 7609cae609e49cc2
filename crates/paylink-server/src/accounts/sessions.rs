//! Signing in and out. A session lives in the database (every instance sees it): an opaque
//! token, kept as its SHA-256, ended after 12 idle hours or 7 days. Each sign-in makes a
//! new token, so a token planted before it (session fixation) never becomes a signed-in
//! one.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use paylink_domain::access::Grant;
use paylink_domain::id::{MerchantId, SessionId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::{Actor, SessionRecord, Tenant, User, SESSION_MAX_SECS};

use super::{invalid_credentials, passwords, record, session_invalid, tokens, Origin, UserOut};
use crate::api::routes::{reg, route, Route};
use crate::auth::Access::Public;
use crate::auth::{Auth, Caller};
use crate::error::{ApiError, ApiResult};
use crate::idempotency::shown_once;
use crate::json::{ok, Json};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    let tag = "Accounts";
    vec![
        route(
            Method::POST,
            "/auth/login",
            tag,
            "Sign in (a session token, shown once)",
            Public,
            200,
            reg::<LoginOut>,
            login,
        )
        .body(reg::<LoginIn>)
        .errors(
            401,
            &["invalid_credentials", "totp_required", "totp_invalid"],
        )
        .errors(403, &["no_membership"])
        .errors(429, &["too_many_attempts"]),
        route(
            Method::POST,
            "/auth/logout",
            tag,
            "Sign out: ends the session",
            Public,
            204,
            reg::<NoContent>,
            logout,
        )
        .errors(401, &["session_invalid"])
        .errors(403, &["csrf_failed"]),
    ]
}

/// An empty answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NoContent {}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 1024)]
    pub password: String,
    /// The current code of the second factor, when the account has one.
    #[schema(max_length = 64)]
    pub totp: Option<String>,
    /// The merchant to act for (default: the oldest membership).
    pub merchant_id: Option<MerchantId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginOut {
    /// Send as `Authorization: Token <access_token>`. Shown once.
    pub access_token: String,
    pub expires_at: Timestamp,
    pub session_id: SessionId,
    /// The membership the session acts on.
    pub merchant_id: MerchantId,
    pub user: UserOut,
    /// The user's memberships (as in `user`): a later sign-in may choose another.
    pub memberships: Vec<super::MembershipOut>,
}

/// The caller of a session token, or why it is refused (see `auth::identify`).
/// A session the dashboard has just read for a page, handed with the page's in-process
/// calls to the API (a request extension: nothing outside the process can set one), so
/// each call does not read and touch it again. It counts only for the token it was read
/// with.
#[derive(Clone)]
pub struct Vouched(std::sync::Arc<paylink_store::SignedIn>);

impl Vouched {
    /// The session `found` as the dashboard just read and touched it for a page.
    pub(crate) fn read(found: paylink_store::SignedIn) -> Self {
        Self(std::sync::Arc::new(found))
    }
}

pub async fn identify(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    cookie: bool,
    vouched: Option<&Vouched>,
) -> Result<Result<Auth, ApiError>, ApiError> {
    if !tokens::well_formed(token) {
        return Ok(Err(session_invalid()));
    }
    let hash = tokens::hash(token);
    let found = match vouched.filter(|v| v.0.session.token_hash == hash) {
        Some(v) => v.0.as_ref().clone(),
        None => match state.store.touch_session(&hash, Timestamp::now()).await? {
            Some(found) => found,
            None => return Ok(Err(session_invalid())),
        },
    };
    let livemode = headers
        .get("paylink-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.eq_ignore_ascii_case("live"));
    Ok(Ok(Auth {
        tenant: Tenant::of_session(&found, livemode),
        caller: Caller::User {
            id: found.user.id.clone(),
            session: found.session.id.clone(),
        },
        grant: Grant::Member(found.role),
        cookie,
    }))
}

/// Checks an e-mail and password (throttled; the same answer and about the same time for
/// an unknown e-mail as for a wrong password), recording failures in the audit log of the
/// merchants the account belongs to. The attempt stays counted as a failure until the
/// caller says it [`succeeded`](crate::accounts::LoginThrottle::succeeded) (a second
/// factor may still be wanting).
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
    origin: &Origin,
) -> ApiResult<User> {
    state.logins.attempt(email, origin.ip).await?;
    let user = if email.len() <= 254 {
        state.store.find_user_by_email(email).await?
    } else {
        None
    };
    let password = password.chars().take(passwords::MAX_LEN * 4).collect();
    let ok =
        passwords::verify_blocking(user.as_ref().map(|u| u.password_hash.clone()), password).await;
    match user {
        Some(u) if ok => Ok(u),
        Some(u) => {
            // Recorded after the answer: a wrong password for an account takes no longer
            // than an address with none.
            let (state, origin) = (state.clone(), origin.clone());
            tokio::spawn(async move { login_failed(&state, &u.id, &origin).await });
            Err(invalid_credentials())
        }
        None => Err(invalid_credentials()),
    }
}

/// `user.login_failed` in the log of each merchant `user` belongs to.
pub async fn login_failed(state: &AppState, user: &UserId, origin: &Origin) {
    let Ok(ms) = state.store.memberships(user).await else {
        return;
    };
    let merchants: Vec<&MerchantId> = ms.iter().map(|m| &m.merchant_id).collect();
    record(
        state,
        &merchants,
        Actor::User(user.to_string()),
        "user.login_failed",
        Some(user.to_string()),
        origin,
    )
    .await;
}

/// A signed-in person proving it is them with their password again (to change it, to
/// turn the second factor on or off), throttled as a sign-in; `400 incorrect_password`
/// naming `param`.
pub async fn confirm_password(
    state: &AppState,
    user: &User,
    password: &str,
    param: &'static str,
    origin: &Origin,
) -> ApiResult<()> {
    super::at_most(password, param, 1024)?;
    state.logins.attempt(&user.email, origin.ip).await?;
    let password = password.chars().take(passwords::MAX_LEN * 4).collect();
    if !passwords::verify_blocking(Some(user.password_hash.clone()), password).await {
        return Err(ApiError::invalid(
            "incorrect_password",
            param,
            "The password is not right",
        ));
    }
    state.logins.succeeded(&user.email, origin.ip).await;
    Ok(())
}

/// A new session for `user` on `merchant` (or their oldest membership): the token, shown
/// once, and the record kept.
pub async fn start(
    state: &AppState,
    user: &User,
    merchant: Option<&MerchantId>,
    origin: &Origin,
) -> ApiResult<(String, SessionRecord)> {
    let memberships = state.store.memberships(&user.id).await?;
    let chosen = match merchant {
        Some(m) => memberships
            .iter()
            .find(|ms| &ms.merchant_id == m)
            .ok_or_else(|| {
                ApiError::invalid(
                    "parameter_invalid",
                    "merchant_id",
                    "You are not a member of this merchant",
                )
            })?,
        None => memberships.first().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                "no_membership",
                "This account belongs to no merchant any more",
            )
        })?,
    };
    let token = tokens::new_token();
    let now = Timestamp::now();
    let session = SessionRecord {
        id: SessionId::generate(),
        token_hash: tokens::hash(&token),
        user_id: user.id.clone(),
        merchant_id: chosen.merchant_id.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(SESSION_MAX_SECS),
        user_agent: origin.user_agent.clone(),
        ip: Some(origin.ip.to_string()),
    };
    state.store.create_session(&session).await?;
    record(
        state,
        &[&session.merchant_id],
        Actor::User(user.id.to_string()),
        "user.login",
        Some(session.id.to_string()),
        origin,
    )
    .await;
    Ok((token, session))
}

/// The whole sign-in, for the API and the form alike: the password (throttled), the second
/// factor if the account has one (a wrong code counts as a failure), then a new session.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    totp: Option<&str>,
    merchant: Option<&MerchantId>,
    origin: &Origin,
) -> ApiResult<(User, String, SessionRecord)> {
    let user = verify_person(state, email, password, totp, origin).await?;
    let (token, session) = start(state, &user, merchant, origin).await?;
    Ok((user, token, session))
}

/// The password (throttled) and the second factor if the account has one (a wrong code
/// counts as a failure): the person, proven.
pub async fn verify_person(
    state: &AppState,
    email: &str,
    password: &str,
    totp: Option<&str>,
    origin: &Origin,
) -> ApiResult<User> {
    let user = check_password(state, email, password, origin).await?;
    if let Err(e) = super::totp::check(state, &user, totp).await {
        if e.code == "totp_invalid" {
            login_failed(state, &user.id, origin).await;
        }
        return Err(e);
    }
    state.logins.succeeded(email, origin.ip).await;
    Ok(user)
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<LoginIn>,
) -> ApiResult<Response> {
    let origin = Origin::of(addr.ip(), &headers);
    super::at_most(&input.email, "email", 254)?;
    super::at_most(&input.password, "password", 1024)?;
    if let Some(t) = &input.totp {
        super::at_most(t, "totp", 64)?;
    }
    let (user, token, session) = sign_in(
        &state,
        &input.email,
        &input.password,
        input.totp.as_deref(),
        input.merchant_id.as_ref(),
        &origin,
    )
    .await?;
    let user = UserOut::load(&state, &user.id).await?;
    let out = LoginOut {
        access_token: token,
        expires_at: session.expires_at,
        session_id: session.id.clone(),
        merchant_id: session.merchant_id.clone(),
        memberships: user.memberships.clone(),
        user,
    };
    Ok(shown_once(ok(&out), "session", session.id))
}

/// Ends the session named by `Authorization: Token …` or the cookie (which needs its CSRF
/// token in `X-CSRF-Token`), and drops the cookie.
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let origin = Origin::of(addr.ip(), &headers);
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Token "))
        .map(|t| t.trim().to_owned());
    let token = match bearer {
        Some(t) => t,
        None => {
            let t = tokens::cookie_token(&headers).ok_or_else(session_invalid)?;
            let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
            if !tokens::csrf_matches(&t, sent) {
                return Err(super::csrf_failed());
            }
            t
        }
    };
    end(&state, &token, &origin).await?;
    let secure = state.public_url.starts_with("https://");
    Ok((
        StatusCode::NO_CONTENT,
        [(
            axum::http::header::SET_COOKIE,
            tokens::set_cookie(None, 0, secure),
        )],
    )
        .into_response())
}

/// Ends the live session whose token is `token`.
pub async fn end(state: &AppState, token: &str, origin: &Origin) -> ApiResult<()> {
    if !tokens::well_formed(token) {
        return Err(session_invalid());
    }
    let found = state
        .store
        .touch_session(&tokens::hash(token), Timestamp::now())
        .await?
        .ok_or_else(session_invalid)?;
    state
        .store
        .end_session(&found.user.id, &found.session.id)
        .await?;
    record(
        state,
        &[&found.session.merchant_id],
        Actor::User(found.user.id.to_string()),
        "user.logout",
        Some(found.session.id.to_string()),
        origin,
    )
    .await;
    Ok(())
}
