//! Merchant accounts: people sign in (`sessions`), hold a role per merchant (the domain's
//! `access` decides what it allows), manage themselves (`me`) and their team (`team`),
//! recover access (`recovery`), and leave an audit trail (`audit`). `pages` holds the
//! server-rendered forms (`/login`, `/forgot`, `/reset/{token}`, `/invite/{token}`).
//!
//! Secrets: passwords are kept as argon2id, every token as its SHA-256; a link that
//! carries a token leaves only through an e-mail sealed under the master key. None of
//! them is logged.

pub mod audit;
pub mod me;
pub mod pages;
pub mod passwords;
pub mod provision;
pub mod recovery;
pub mod sessions;
pub mod team;
pub mod tokens;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
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

/// Sign-in attempts per e-mail address and per client address (IPv6 by /64), GCRA buckets
/// in memory: 10 per address of e-mail then one a minute; `auth_failures_per_minute` per
/// client. Every attempt counts, checked before the password is, so guessing is slow
/// whether or not the account exists.
pub struct LoginThrottle {
    by_email: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginThrottle {
    pub fn new(per_ip_per_minute: u32) -> Self {
        let per_ip = NonZeroU32::new(per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let ten = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN);
        let email_quota = Quota::with_period(Duration::from_secs(60))
            .map(|q| q.allow_burst(ten))
            .unwrap_or_else(|| Quota::per_minute(ten));
        Self {
            by_email: RateLimiter::keyed(email_quota),
            by_ip: RateLimiter::keyed(Quota::per_minute(per_ip).allow_burst(per_ip)),
        }
    }

    /// Counts an attempt for `email` from `ip`; `429 too_many_attempts` when either has
    /// none left.
    pub fn attempt(&self, email: &str, ip: IpAddr) -> Result<(), ApiError> {
        let ip = match ip {
            IpAddr::V6(v6) => {
                let mut o = v6.octets();
                o.iter_mut().skip(8).for_each(|b| *b = 0);
                IpAddr::V6(o.into())
            }
            v4 => v4,
        };
        if self.by_ip.len() > 100_000 {
            self.by_ip.retain_recent();
        }
        if self.by_email.len() > 100_000 {
            self.by_email.retain_recent();
        }
        let now = DefaultClock::default().now();
        let refused = self
            .by_ip
            .check_key(&ip)
            .err()
            .or_else(|| self.by_email.check_key(&email.to_lowercase()).err());
        match refused {
            None => Ok(()),
            Some(not_until) => {
                let mut e = ApiError::rate_limited(
                    "Too many sign-in attempts; wait before trying again",
                    not_until.wait_time_from(now),
                );
                e.code = "too_many_attempts";
                Err(e)
            }
        }
    }
}

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

/// Writes one entry to each merchant's audit log; a failure is logged, never answered
/// (the action it records already happened).
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
            id: AuditEntryId::generate(),
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
    if let Err(e) = state.store.append_audit(&entries).await {
        tracing::warn!(error = %e, action, "writing the audit log failed");
    }
}

/// A membership as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
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
    [me::routes(), team::routes(), audit::routes()]
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
