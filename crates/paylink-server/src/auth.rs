//! API keys and the `Auth` extractor: who is calling, in which mode, with which scopes.
//!
//! Keys are 190 random bits, so a fast SHA-256 is the right hash at rest (argon2 is for
//! low-entropy passwords and would cost every request tens of milliseconds). The key is
//! shown once; only its hash and a masked form are stored.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::DefaultClock;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroU32;

use paylink_domain::access::Grant;
use paylink_domain::id::{random_base62, ApiKeyId, SessionId, UserId};
use paylink_domain::link::{CreatedBy, CreatorType};
use paylink_domain::time::Timestamp;
use paylink_store::{ApiKeyRecord, KeyKind, Tenant};

use crate::error::ApiError;
use crate::state::AppState;

/// Every scope a restricted key can carry (the domain's list: see
/// [`paylink_domain::access`], which decides for keys and people alike).
pub use paylink_domain::access::KEY_SCOPES as SCOPES;

/// Who is calling: a key, or a person through one of their sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    ApiKey(ApiKeyId),
    User { id: UserId, session: SessionId },
}

/// The caller, as established by the auth middleware.
#[derive(Clone, Debug)]
pub struct Auth {
    pub tenant: Tenant,
    pub caller: Caller,
    pub grant: Grant,
    /// Authenticated by the session cookie (unsafe requests then need the CSRF token).
    pub cookie: bool,
}

impl Auth {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.grant.allows(scope)
    }

    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            return Ok(());
        }
        Err(ApiError::forbidden(match &self.grant {
            Grant::Member(role) => format!("The `{role}` role may not do this (`{scope}`)"),
            _ => format!("This key lacks the `{scope}` scope"),
        }))
    }

    /// Who made a request, for idempotency: a stored answer is replayed to its maker only.
    pub fn credential(&self) -> &str {
        match &self.caller {
            Caller::ApiKey(id) => id.as_str(),
            Caller::User { id, .. } => id.as_str(),
        }
    }

    /// `created_by` of the objects the caller creates.
    pub fn created_by(&self) -> CreatedBy {
        match &self.caller {
            Caller::ApiKey(id) => CreatedBy {
                kind: CreatorType::ApiKey,
                id: id.to_string(),
            },
            Caller::User { id, .. } => CreatedBy {
                kind: CreatorType::User,
                id: id.to_string(),
            },
        }
    }

    /// The audit log's actor.
    pub fn actor(&self) -> paylink_store::Actor {
        match &self.caller {
            Caller::ApiKey(id) => paylink_store::Actor::ApiKey(id.to_string()),
            Caller::User { id, .. } => paylink_store::Actor::User(id.to_string()),
        }
    }

    /// The signed-in person, or `403` for a key.
    pub fn person(&self) -> Result<(&UserId, &SessionId), ApiError> {
        match &self.caller {
            Caller::User { id, session } => Ok((id, session)),
            Caller::ApiKey(_) => Err(ApiError::forbidden(
                "Only a signed-in person has an account; send `Authorization: Token …`",
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Auth>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("api_key_missing", "No API key provided"))
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn prefix(kind: KeyKind, livemode: bool) -> &'static str {
    match (kind, livemode) {
        (KeyKind::Secret, false) => "sk_test_",
        (KeyKind::Secret, true) => "sk_live_",
        (KeyKind::Restricted, false) => "rk_test_",
        (KeyKind::Restricted, true) => "rk_live_",
    }
}

/// A new key and its record; the key itself must be shown once and then forgotten.
pub fn new_key(
    merchant: &paylink_domain::id::MerchantId,
    kind: KeyKind,
    livemode: bool,
    name: String,
    scopes: Vec<String>,
) -> (String, ApiKeyRecord) {
    let secret = format!(
        "{}{}{}",
        prefix(kind, livemode),
        random_base62(),
        &random_base62()[..10]
    );
    let last4 = &secret[secret.len() - 4..];
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        merchant_id: merchant.clone(),
        livemode,
        kind,
        name,
        scopes,
        key_hash: hash_key(&secret),
        masked: format!("{}…{last4}", prefix(kind, livemode)),
        created_at: Timestamp::now(),
        revoked_at: None,
    };
    (secret, record)
}

/// Failed authentications per client address (IPv6 by /64): a GCRA bucket of
/// `auth_failures_per_minute`. Once an address has spent it, its failures answer `429`
/// with `Retry-After` instead of `401`, so keys cannot be guessed at full speed. A valid
/// credential is always let through: keys carry 190 random bits, and an address shared
/// with an attacker (a NAT, a proxy) never locks the merchant out.
pub struct FailedAuth {
    limiter: governor::DefaultKeyedRateLimiter<IpAddr>,
}

impl FailedAuth {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_minute(per_minute).allow_burst(per_minute),
            ),
        }
    }

    /// Counts a failure of `ip`; the `429` to answer instead if it has none left.
    pub fn failed(&self, ip: IpAddr) -> Option<ApiError> {
        let key = match ip {
            IpAddr::V6(v6) => {
                let mut o = v6.octets();
                o.iter_mut().skip(8).for_each(|b| *b = 0);
                IpAddr::V6(o.into())
            }
            v4 => v4,
        };
        if self.limiter.len() > 100_000 {
            // Addresses whose buckets are full again need no state.
            self.limiter.retain_recent();
        }
        let Err(not_until) = self.limiter.check_key(&key) else {
            return None;
        };
        Some(ApiError::rate_limited(
            "Too many failed authentications from this address; wait before trying again",
            not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default())),
        ))
    }
}

/// The client's address as the connection gives it.
pub fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Resolves the request's credential into an [`Auth`] in its extensions: `Authorization:
/// Bearer <key>`, `Authorization: Token <access_token>` or the `paylink_session` cookie.
/// A cookie-authenticated unsafe request must carry the session's CSRF token.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = client_ip(&req);
    let vouched = req
        .extensions()
        .get::<crate::accounts::sessions::Vouched>()
        .cloned();
    let auth = match identify(&state, req.headers(), vouched.as_ref()).await? {
        Ok(auth) => auth,
        Err(refusal) => {
            return Err(state.auth_failures.failed(ip).unwrap_or(refusal));
        }
    };
    if auth.cookie && !req.method().is_safe() {
        let sent = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok());
        let token = crate::accounts::tokens::cookie_token(req.headers());
        if !token.is_some_and(|t| crate::accounts::tokens::csrf_matches(&t, sent)) {
            return Err(crate::accounts::csrf_failed());
        }
    }
    tracing::Span::current().record(
        "merchant.id",
        tracing::field::display(&auth.tenant.merchant_id()),
    );
    req.extensions_mut()
        .insert(crate::idempotency::IdempotencyScope::of(&auth.tenant));
    req.extensions_mut().insert(auth);
    Ok(next.run(req).await)
}

/// The caller named by the request's credential, or why it is refused.
async fn identify(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    vouched: Option<&crate::accounts::sessions::Vouched>,
) -> Result<Result<Auth, ApiError>, ApiError> {
    let header = headers.get(axum::http::header::AUTHORIZATION);
    if header.is_none() {
        if let Some(token) = crate::accounts::tokens::cookie_token(headers) {
            return crate::accounts::sessions::identify(state, &token, headers, true, vouched)
                .await;
        }
    }
    let Some(header) = header else {
        return Ok(Err(ApiError::unauthorized(
            "api_key_missing",
            "No API key provided; send `Authorization: Bearer sk_test_…`",
        )));
    };
    let text = header.to_str().ok();
    if let Some(token) = text.and_then(|h| h.strip_prefix("Token ")).map(str::trim) {
        return crate::accounts::sessions::identify(state, token, headers, false, vouched).await;
    }
    let Some(key) = text
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
    else {
        return Ok(Err(ApiError::unauthorized(
            "api_key_invalid",
            "Malformed Authorization header",
        )));
    };
    let Some(record) = state
        .api_key(&hash_key(key))
        .await?
        .filter(|r| key.starts_with(prefix(r.kind, r.livemode)))
    else {
        return Ok(Err(ApiError::unauthorized(
            "api_key_invalid",
            "Invalid API key",
        )));
    };
    Ok(Ok(Auth {
        tenant: Tenant::of_key(&record),
        caller: Caller::ApiKey(record.id),
        grant: match record.kind {
            KeyKind::Secret => Grant::SecretKey,
            KeyKind::Restricted => Grant::Restricted(record.scopes),
        },
        cookie: false,
    }))
}

/// What a route asks of its caller, declared beside it in the route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A caller granted this scope ([`Grant::allows`]: secret keys hold every scope, restricted
    /// keys theirs, people their role's).
    Scope(&'static str),
    /// A signed-in person, acting on their own account (`/v1/me`).
    Person,
    /// The customer side: no credential.
    Public,
}

/// A route layer that refuses callers without the route's [`Access`]. It runs before the
/// route's idempotency layer, so a stored answer is only ever replayed to a caller who may
/// make the request.
/// A route that is not public and finds no caller (authentication did not run before it:
/// a mistake in the router's layers) is refused, never let through.
pub async fn authorize(access: Access, req: Request, next: Next) -> Result<Response, ApiError> {
    match (access, req.extensions().get::<Auth>()) {
        (Access::Public, _) => {}
        (Access::Scope(scope), Some(auth)) => auth.require(scope)?,
        (Access::Person, Some(auth)) => {
            auth.person()?;
        }
        (_, None) => {
            tracing::error!("a route that needs a caller was reached without one");
            return Err(ApiError::forbidden("This route needs a caller"));
        }
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_prefixed_and_hashed() {
        let m = paylink_domain::id::MerchantId::generate();
        let (key, rec) = new_key(
            &m,
            KeyKind::Restricted,
            true,
            "ci".into(),
            vec!["payments:read".into()],
        );
        assert!(key.starts_with("rk_live_") && key.len() == 8 + 32);
        assert_eq!(rec.key_hash, hash_key(&key));
        assert!(!rec.masked.contains(&key[8..20]));
        assert!(rec.masked.ends_with(&key[key.len() - 4..]));
    }

    #[test]
    fn write_implies_read() {
        let auth = Auth {
            tenant: Tenant::stored(paylink_domain::id::MerchantId::generate(), false),
            caller: Caller::ApiKey(ApiKeyId::generate()),
            grant: Grant::Restricted(vec!["products:write".into()]),
            cookie: false,
        };
        assert!(auth.has_scope("products:read"));
        assert!(auth.has_scope("products:write"));
        assert!(!auth.has_scope("payment_links:read"));
    }
}
