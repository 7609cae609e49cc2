//! Merchant accounts: people sign in (`sessions`), hold a role per merchant (the domain's
//! `access` decides what it allows), manage themselves (`me`) and their team (`team`),
//! recover access (`recovery`), and leave an audit trail (`audit`). `pages` holds the
//! server-rendered forms (`/login`, `/forgot`, `/reset/{token}`, `/invite/{token}`).
//!
//! Secrets: passwords are kept as argon2id, every token as its SHA-256; a link that
//! carries a token leaves only through an e-mail sealed under the master key. None of
//! them is logged.

pub mod audit;
pub mod journal;
pub mod me;
pub mod pages;
pub mod passwords;
pub mod provision;
pub mod recovery;
pub mod sessions;
pub mod team;
pub mod throttle;
pub mod tokens;
pub mod totp;

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use paylink_domain::access::Role;
use paylink_domain::id::{AuditEntryId, MerchantId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::{Actor, AuditEntry, Membership, User};

use crate::error::ApiError;
use crate::state::AppState;

/// `403 csrf_failed`: a cookie session's unsafe request without its CSRF token.
pub fn csrf_failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "permission_error",
        "csrf_failed",
        "This request needs the session's CSRF token (`X-CSRF-Token` or the `csrf` form field)",
    )
}

/// `401 invalid_credentials`: the same answer for an unknown e-mail and a wrong password.
pub fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "Incorrect e-mail or password")
}

/// `401 session_invalid`: no live session has this token.
pub fn session_invalid() -> ApiError {
    ApiError::unauthorized(
        "session_invalid",
        "The session has ended or never existed; sign in again",
    )
}

/// `404` for a token that is unknown, used, revoked or expired: all look alike.
pub fn link_invalid(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_missing",
        format!("This {what} link is invalid, used or expired; ask for a new one"),
    )
}

/// `400 parameter_invalid` when `v` is longer than the document's `maxLength` for `param`.
pub fn at_most(v: &str, param: &str, max: usize) -> Result<(), ApiError> {
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            "parameter_invalid",
            param,
            format!("`{param}` has at most {max} characters"),
        ));
    }
    Ok(())
}

pub use throttle::LoginThrottle;

/// Where a request came from, for sessions and the audit log.
#[derive(Clone, Debug)]
pub struct Origin {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn of(ip: IpAddr, headers: &HeaderMap) -> Self {
        Self {
            ip,
            user_agent: headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(300).collect()),
        }
    }
}

/// Writes one entry to each merchant's audit log, through the journal (see [`journal`]); a
/// failure is logged, never answered (the action it records already happened).
pub async fn record(
    state: &AppState,
    merchants: &[&MerchantId],
    actor: Actor,
    action: &str,
    object_id: Option<String>,
    origin: &Origin,
) {
    let now = Timestamp::now();
    let entries: Vec<AuditEntry> = merchants
        .iter()
        .map(|m| AuditEntry {
            id: AuditEntryId::generate_at(now.unix()),
            merchant_id: (*m).clone(),
            actor: actor.clone(),
            action: action.to_owned(),
            object_id: object_id.clone(),
            ip: Some(origin.ip.to_string()),
            user_agent: origin.user_agent.clone(),
            created_at: now,
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    state.journal.append(entries);
}

/// A membership as the API shows it.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct MembershipOut {
    pub merchant_id: MerchantId,
    pub merchant_name: String,
    pub role: Role,
}

/// A person as the API shows them (never a hash or a secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserOut {
    pub id: UserId,
    #[schema(value_type = String, example = "user")]
    pub object: &'static str,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    pub totp_enabled: bool,
    pub memberships: Vec<MembershipOut>,
}

impl UserOut {
    pub fn new(u: User, memberships: Vec<Membership>) -> Self {
        Self {
            id: u.id,
            object: "user",
            email: u.email,
            name: u.name,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            totp_enabled: u.totp_secret.is_some(),
            memberships: memberships
                .into_iter()
                .map(|m| MembershipOut {
                    merchant_id: m.merchant_id,
                    merchant_name: m.merchant_name,
                    role: m.role,
                })
                .collect(),
        }
    }

    /// The user with their memberships, read afresh.
    pub async fn load(state: &AppState, id: &UserId) -> Result<Self, ApiError> {
        let u = state.store.get_user(id).await?;
        let ms = state.store.memberships(id).await?;
        Ok(Self::new(u, ms))
    }
}

/// The routes of people on their own account, the team and the audit log (`/v1`).
pub fn routes() -> Vec<crate::api::routes::Route> {
    [
        me::routes(),
        totp::routes(),
        team::routes(),
        audit::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The routes that take no credential: signing in and out, recovery, invitations.
pub fn public_routes() -> Vec<crate::api::routes::Route> {
    [sessions::routes(), recovery::routes()]
        .into_iter()
        .flatten()
        .collect()
}
