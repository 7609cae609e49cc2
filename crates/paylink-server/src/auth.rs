//! API keys and the `Auth` extractor: who is calling, in which mode, with which scopes.
//!
//! Keys are 190 random bits, so a fast SHA-256 is the right hash at rest (argon2 is for
//! low-entropy passwords and would cost every request tens of milliseconds). The key is
//! shown once; only its hash and a masked form are stored.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use paylink_domain::id::{random_base62, ApiKeyId};
use paylink_domain::time::Timestamp;
use paylink_store::{ApiKeyRecord, KeyKind, Tenant};

use crate::error::ApiError;
use crate::state::AppState;

/// Every scope a restricted key can carry. `X:write` implies `X:read`.
pub const SCOPES: &[&str] = &[
    "payment_links:read",
    "payment_links:write",
    "products:read",
    "products:write",
    "customers:read",
    "customers:write",
    "tax_rates:read",
    "tax_rates:write",
    "orders:read",
    "orders:write",
    "payments:read",
    "refunds:write",
    "events:read",
    "webhooks:read",
    "webhooks:write",
    "settings:read",
    "settings:write",
];

/// The caller, as established by the auth middleware.
#[derive(Clone, Debug)]
pub struct Auth {
    pub tenant: Tenant,
    pub key_id: ApiKeyId,
    pub kind: KeyKind,
    pub scopes: Vec<String>,
}

impl Auth {
    pub fn has_scope(&self, scope: &str) -> bool {
        if self.kind == KeyKind::Secret {
            return true;
        }
        let write = scope.strip_suffix(":read").map(|r| format!("{r}:write"));
        self.scopes
            .iter()
            .any(|s| s == scope || Some(s) == write.as_ref())
    }

    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This key lacks the `{scope}` scope"
            )))
        }
    }

    pub fn require_secret(&self) -> Result<(), ApiError> {
        if self.kind == KeyKind::Secret {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only a secret key can manage API keys"))
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

/// Resolves `Authorization: Bearer …` into an [`Auth`] in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req.headers().get(axum::http::header::AUTHORIZATION);
    let Some(header) = header else {
        return Err(ApiError::unauthorized(
            "api_key_missing",
            "No API key provided; send `Authorization: Bearer sk_test_…`",
        ));
    };
    let key = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::unauthorized("api_key_invalid", "Malformed Authorization header")
        })?;
    let record = state
        .api_key(&hash_key(key))
        .await?
        .filter(|r| key.starts_with(prefix(r.kind, r.livemode)))
        .ok_or_else(|| ApiError::unauthorized("api_key_invalid", "Invalid API key"))?;
    let auth = Auth {
        tenant: Tenant {
            merchant_id: record.merchant_id,
            livemode: record.livemode,
        },
        key_id: record.id,
        kind: record.kind,
        scopes: record.scopes,
    };
    tracing::Span::current().record(
        "merchant.id",
        tracing::field::display(&auth.tenant.merchant_id),
    );
    req.extensions_mut()
        .insert(crate::idempotency::IdempotencyScope(auth.tenant.clone()));
    req.extensions_mut().insert(auth);
    Ok(next.run(req).await)
}

/// A route layer that refuses callers without `scope`.
pub async fn require_scope(
    scope: &'static str,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(auth) = req.extensions().get::<Auth>() {
        auth.require(scope)?;
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
            tenant: Tenant {
                merchant_id: paylink_domain::id::MerchantId::generate(),
                livemode: false,
            },
            key_id: ApiKeyId::generate(),
            kind: KeyKind::Restricted,
            scopes: vec!["products:write".into()],
        };
        assert!(auth.has_scope("products:read"));
        assert!(auth.has_scope("products:write"));
        assert!(!auth.has_scope("payment_links:read"));
    }
}
