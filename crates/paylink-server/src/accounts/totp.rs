//! The second factor: RFC 6238 codes (SHA-1, 6 digits, 30 s, one step of skew either way,
//! what every authenticator app takes) and ten single-use recovery codes.
//!
//! Enrolment is stateless until confirmed: `POST /v1/me/totp` answers a new secret and the
//! same secret sealed for this user (`enrollment`); `POST /v1/me/totp/confirm` with that and
//! a current code turns the factor on and shows the recovery codes once. The secret is kept
//! sealed under the master key; recovery codes as SHA-256 only.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};

use paylink_domain::id::{random_base62, UserId};
use paylink_store::{Actor, User};

use super::{record, tokens, Origin, UserOut};
use crate::api::routes::{reg, route, Route};
use crate::auth::Access::Person;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::shown_once;
use crate::json::{ok, Json};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    let tag = "Accounts";
    vec![
        route(
            Method::POST,
            "/v1/me/totp",
            tag,
            "Start enrolling a second factor: a new TOTP secret (shown once)",
            Person,
            200,
            reg::<EnrollmentOut>,
            enroll,
        )
        .errors(409, &["totp_already_enabled"]),
        route(
            Method::POST,
            "/v1/me/totp/confirm",
            tag,
            "Turn the second factor on with a current code; answers the recovery codes once",
            Person,
            200,
            reg::<RecoveryCodesOut>,
            confirm,
        )
        .body(reg::<ConfirmIn>)
        .errors(400, &["totp_invalid", "incorrect_password"])
        .errors(409, &["totp_already_enabled"]),
        route(
            Method::POST,
            "/v1/me/totp/disable",
            tag,
            "Turn the second factor off (needs the password)",
            Person,
            200,
            reg::<UserOut>,
            disable,
        )
        .body(reg::<DisableIn>)
        .errors(400, &["incorrect_password"])
        .errors(429, &["too_many_attempts"]),
    ]
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, 30, secret.to_vec()).ok()
}

fn sealed_for(user: &UserId) -> String {
    format!("totp:{user}")
}

/// The time step (Unix time / 30) at which `code` is a code of the user's sealed secret,
/// within one step either way of now; `None` when it is none.
fn code_step(state: &AppState, user: &User, sealed: &str, code: &str) -> Option<i64> {
    let Ok(b32) = state.sealer.open(sealed, &sealed_for(&user.id)) else {
        tracing::error!(user.id = %user.id, "a TOTP secret does not open under the master key");
        return None;
    };
    let secret = totp_rs::Secret::Encoded(b32).to_bytes().unwrap_or_default();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(&secret)?;
    let now = u64::try_from(paylink_domain::time::Timestamp::now().unix()).ok()?;
    let step = now / 30;
    [step.checked_sub(1), Some(step), step.checked_add(1)]
        .into_iter()
        .flatten()
        .find(|s| constant_time_eq(t.generate(s * 30).as_bytes(), code.as_bytes()))
        .and_then(|s| i64::try_from(s).ok())
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The second-factor check of a sign-in whose password was right: `Ok` when the account
/// has none, or `totp` is a current code or an unused recovery code (then used up).
pub async fn check(state: &AppState, user: &User, totp: Option<&str>) -> ApiResult<()> {
    let Some(sealed) = &user.totp_secret else {
        return Ok(());
    };
    let Some(code) = totp.map(|c| c.trim().replace([' ', '-'], "")) else {
        return Err(ApiError::unauthorized(
            "totp_required",
            "This account needs the code of its authenticator app (or a recovery code)",
        ));
    };
    // A code signs in once: its step is taken, and a replay within the window refused.
    if let Some(step) = code_step(state, user, sealed, &code) {
        if state.store.use_totp_step(&user.id, step).await? {
            return Ok(());
        }
    }
    if code.len() == 20
        && state
            .store
            .use_recovery_code(&user.id, &tokens::hash(&code))
            .await?
    {
        return Ok(());
    }
    Err(ApiError::unauthorized(
        "totp_invalid",
        "That code is not right, or it has expired",
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrollmentOut {
    #[schema(value_type = String, example = "totp_enrollment")]
    pub object: &'static str,
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URL (a QR code of it is what apps scan).
    pub otpauth_url: String,
    /// Send back to `POST /v1/me/totp/confirm` with a current code.
    pub enrollment: String,
}

fn already() -> ApiError {
    ApiError::conflict(
        "totp_already_enabled",
        "A second factor is already on; turn it off first to enrol another",
    )
}

pub async fn enroll(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (user_id, _) = auth.person()?;
    let user = state.store.get_user(user_id).await?;
    if user.totp_secret.is_some() {
        return Err(already());
    }
    let mut raw = [0u8; 20];
    rand::rng().fill_bytes(&mut raw);
    let b32 = totp_rs::Secret::Raw(raw.to_vec()).to_encoded().to_string();
    let label: String =
        form_urlencoded::byte_serialize(format!("Paylink:{}", user.email).as_bytes()).collect();
    let out = EnrollmentOut {
        object: "totp_enrollment",
        otpauth_url: format!(
            "otpauth://totp/{label}?secret={b32}&issuer=Paylink&algorithm=SHA1&digits=6&period=30"
        ),
        enrollment: state.sealer.seal(&b32, &sealed_for(user_id)),
        secret: b32,
    };
    Ok(shown_once(ok(&out), "totp_enrollment", user_id))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmIn {
    /// `enrollment` from `POST /v1/me/totp`.
    #[schema(max_length = 512)]
    pub enrollment: String,
    /// A current 6-digit code.
    #[schema(max_length = 16)]
    pub code: String,
    /// The account's password: a session alone (a token left on a shared computer) cannot
    /// put a factor of someone else's between the owner and their account.
    #[schema(max_length = 1024)]
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodesOut {
    #[schema(value_type = String, example = "totp")]
    pub object: &'static str,
    pub enabled: bool,
    /// Ten codes, each good for one sign-in without the app. Shown once.
    pub recovery_codes: Vec<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Auth,
    Json(input): Json<ConfirmIn>,
) -> ApiResult<Response> {
    let (user_id, _) = auth.person()?;
    super::at_most(&input.enrollment, "enrollment", 512)?;
    super::at_most(&input.code, "code", 16)?;
    let user = state.store.get_user(user_id).await?;
    if user.totp_secret.is_some() {
        return Err(already());
    }
    let origin = Origin::of(addr.ip(), &headers);
    super::sessions::confirm_password(&state, &user, &input.password, "password", &origin).await?;
    let invalid = || {
        ApiError::invalid(
            "totp_invalid",
            "code",
            "That code is not right for this enrolment, or it has expired",
        )
    };
    let b32 = state
        .sealer
        .open(&input.enrollment, &sealed_for(user_id))
        .map_err(|_| {
            ApiError::invalid(
                "parameter_invalid",
                "enrollment",
                "Not an enrolment of this account",
            )
        })?;
    // Sealed again: the enrolment's own ciphertext was shown to the client.
    let sealed = state.sealer.seal(&b32, &sealed_for(user_id));
    let Some(step) = code_step(&state, &user, &sealed, input.code.trim()) else {
        return Err(invalid());
    };
    let codes: Vec<String> = (0..10)
        .map(|_| random_base62().chars().take(20).collect())
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| tokens::hash(c)).collect();
    state
        .store
        .set_totp(user_id, Some(&sealed), &hashes)
        .await?;
    // The code that confirmed cannot sign in as well.
    state.store.use_totp_step(user_id, step).await?;
    record(
        &state,
        &[auth.tenant.merchant_id()],
        Actor::User(user_id.to_string()),
        "user.totp_enabled",
        Some(user_id.to_string()),
        &origin,
    )
    .await;
    let out = RecoveryCodesOut {
        object: "totp",
        enabled: true,
        recovery_codes: codes,
    };
    Ok(shown_once(ok(&out), "totp", user_id))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableIn {
    #[schema(max_length = 1024)]
    pub password: String,
}

pub async fn disable(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Auth,
    Json(input): Json<DisableIn>,
) -> ApiResult<Response> {
    let (user_id, _) = auth.person()?;
    let origin = Origin::of(addr.ip(), &headers);
    let user = state.store.get_user(user_id).await?;
    super::sessions::confirm_password(&state, &user, &input.password, "password", &origin).await?;
    state.store.set_totp(user_id, None, &[]).await?;
    record(
        &state,
        &[auth.tenant.merchant_id()],
        Actor::User(user_id.to_string()),
        "user.totp_disabled",
        Some(user_id.to_string()),
        &origin,
    )
    .await;
    Ok(ok(&UserOut::load(&state, user_id).await?))
}
