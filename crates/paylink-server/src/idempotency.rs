//! `Idempotency-Key` on every POST, PATCH and DELETE of the merchant API.
//!
//! The key is scoped to the merchant and mode. The first request claims it; a retry with
//! the same body gets the first response byte for byte with `Idempotent-Replayed: true`;
//! the same key with another request is `422 idempotency_key_reused`; a retry while the
//! first is still running is `409 idempotency_key_in_use`. Responses of 5xx release the
//! key so the retry can run again. Because the claim is one atomic insert, two identical
//! requests racing produce one object.
//!
//! Routes listed in [`ATOMIC`] skip the claim: their handler writes the answer in the
//! transaction of the change it reports ([`DeferredAnswer`]), so a new key costs one
//! commit instead of three, and no lookup. Two requests racing with one key still make one
//! object: the second one's transaction fails on the key and it replays the first one's
//! answer; a retry with a known key does the same.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use paylink_domain::time::Timestamp;
use paylink_store::{IdempotencyBegin, IdempotentAnswer, StoredResponse};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::json::{too_large, MAX_BODY};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// Whose keys these are (a request extension, set by authentication): the merchant and
/// mode for the API, the client's address on the public checkout routes, so customers can
/// never collide with each other's keys.
pub use paylink_store::IdempotencyScope;

/// Routes whose handler records its answer with its change.
const ATOMIC: &[(Method, &str)] = &[(Method::POST, "/v1/payment_links")];

/// Routes whose bodies carry a password. They are never fingerprinted, so an
/// `Idempotency-Key` on them is ignored: a fingerprint is a fast hash, and of a sign-in the
/// password is all of the body an attacker with the database would not know. Their answers
/// carry tokens shown once, which are never replayed anyway.
const SECRET_BODIES: &[&str] = &[
    "/auth/login",
    "/auth/reset/{token}",
    "/auth/invitations/{token}/accept",
    "/v1/me/password",
    "/v1/me/totp/confirm",
    "/v1/me/totp/disable",
];

/// For a handler of an [`ATOMIC`] route: the key and fingerprint to record its answer under.
#[derive(Clone, Debug)]
pub struct DeferredAnswer {
    pub key: String,
    pub fingerprint: String,
}

impl DeferredAnswer {
    pub fn answer(&self, status: StatusCode, body: &[u8], now: Timestamp) -> IdempotentAnswer {
        IdempotentAnswer {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            response: StoredResponse {
                status: status.as_u16(),
                body: body.to_vec(),
            },
            now,
        }
    }
}

/// On a response whose body shows a secret once (a new API key, a webhook secret): what is
/// kept for the key is a refusal naming the object, never the secret, so a retry answers
/// `409 idempotency_secret_not_replayable` (the caller lists the object and revokes or
/// rotates it if the first answer was lost).
#[derive(Clone, Debug)]
pub struct ShownOnce {
    pub object: &'static str,
    pub id: String,
}

/// On a response that a customer's retry must get again but that carries a secret (a
/// checkout session's client secret): kept sealed under the master key.
#[derive(Clone, Copy, Debug)]
pub struct Sealed;

/// Marks `res` as showing a secret once (see [`ShownOnce`]).
pub fn shown_once(mut res: Response, object: &'static str, id: impl ToString) -> Response {
    res.extensions_mut().insert(ShownOnce {
        object,
        id: id.to_string(),
    });
    res
}

/// Marks `res` as to be kept sealed (see [`Sealed`]).
pub fn sealed(mut res: Response) -> Response {
    res.extensions_mut().insert(Sealed);
    res
}

fn not_replayable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_error",
        "idempotency_secret_not_replayable",
        message,
    )
}

/// On a response: the handler recorded the answer itself.
#[derive(Clone, Copy, Debug)]
struct AnswerRecorded;

/// On a response: another request with the same key committed first.
#[derive(Clone, Copy, Debug)]
struct AnswerRaced;

/// A JSON answer whose bytes the handler also recorded (`recorded`) with its change.
pub fn answered(status: StatusCode, body: Vec<u8>, recorded: bool) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if recorded {
        res.extensions_mut().insert(AnswerRecorded);
    }
    res
}

/// The handler's change lost the race for its key; the layer replays the winner.
pub fn raced() -> Response {
    let mut res = StatusCode::CONFLICT.into_response();
    res.extensions_mut().insert(AnswerRaced);
    res
}

fn in_use() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_error",
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed; retry shortly",
    );
    e.retry_after = Some(1);
    e
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_error",
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request or by another credential",
    )
}

pub async fn layer(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get(HEADER) else {
        return Ok(next.run(req).await);
    };
    let secret_body = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| SECRET_BODIES.contains(&p.as_str()));
    if secret_body {
        return Ok(next.run(req).await);
    }
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()))
        .ok_or_else(|| {
            ApiError::invalid(
                "idempotency_key_invalid",
                "Idempotency-Key",
                "`Idempotency-Key` must be 1–255 visible ASCII characters",
            )
        })?
        .to_owned();
    let Some(scope) = req.extensions().get::<IdempotencyScope>().cloned() else {
        return Ok(next.run(req).await);
    };

    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| too_large())?;
    let mut hasher = Sha256::new();
    // The credential is part of the request: another key (or user) reusing the key is
    // `422 idempotency_key_reused`, never a replay of someone else's answer.
    if let Some(auth) = parts.extensions.get::<Auth>() {
        hasher.update(auth.credential());
    }
    hasher.update(b"\n");
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"?");
    hasher.update(parts.uri.query().unwrap_or(""));
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());

    let t = &scope;
    let now = Timestamp::now();
    let atomic = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| {
            ATOMIC
                .iter()
                .any(|(m, path)| *m == parts.method && *path == p.as_str())
        });
    if atomic {
        // No lookup first: a known key fails the change's own transaction (or the refusal's
        // record) and is answered from what it holds.
        let deferred = DeferredAnswer {
            key: key.clone(),
            fingerprint: fingerprint.clone(),
        };
        let mut parts = parts;
        parts.extensions.insert(deferred.clone());
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        if response.extensions().get::<AnswerRecorded>().is_some()
            || response.status().is_server_error()
        {
            return Ok(response);
        }
        if response.extensions().get::<AnswerRaced>().is_none() {
            // Answered without a change (refused): kept, so a retry gets the same answer.
            let (parts, body) = response.into_parts();
            let body = to_bytes(body, 16 * 1024 * 1024)
                .await
                .map_err(ApiError::internal)?;
            let answer = deferred.answer(parts.status, &body, now);
            if state.store.idempotency_record(t, &answer).await? {
                return Ok(Response::from_parts(parts, Body::from(body)));
            }
        }
        // The key was there first: answer as it says.
        return match state
            .store
            .idempotency_begin(t, &key, &fingerprint, now)
            .await?
        {
            IdempotencyBegin::Replay(stored) => replay(&state, t, &key, stored),
            IdempotencyBegin::Mismatch => Err(reused()),
            IdempotencyBegin::InFlight => Err(in_use()),
            IdempotencyBegin::Started => {
                // The first one's key vanished meanwhile (purged): nothing to replay.
                state.store.idempotency_release(t, &key).await?;
                Err(in_use())
            }
        };
    }
    match state
        .store
        .idempotency_begin(t, &key, &fingerprint, now)
        .await?
    {
        IdempotencyBegin::Started => {}
        IdempotencyBegin::Replay(stored) => return replay(&state, t, &key, stored),
        IdempotencyBegin::InFlight => return Err(in_use()),
        IdempotencyBegin::Mismatch => return Err(reused()),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() {
        state.store.idempotency_release(t, &key).await?;
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let body = match to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            state.store.idempotency_release(t, &key).await?;
            return Err(ApiError::internal(e));
        }
    };
    let stored = kept(&state, t, &key, &parts, &body);
    state.store.idempotency_finish(t, &key, &stored).await?;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// What is kept for a key: the answer, sealed or replaced when it shows a secret.
fn kept(
    state: &AppState,
    t: &IdempotencyScope,
    key: &str,
    parts: &axum::http::response::Parts,
    body: &[u8],
) -> StoredResponse {
    if let Some(once) = parts.extensions.get::<ShownOnce>() {
        let e = not_replayable(format!(
            "This Idempotency-Key made {} {}, whose secret was shown only in the first answer and is not kept; \
             retrieve it by id, and revoke or rotate it if that answer was lost",
            once.object, once.id
        ));
        return StoredResponse {
            status: e.status.as_u16(),
            body: e.body_bytes(),
        };
    }
    let body = if parts.extensions.get::<Sealed>().is_some() {
        let plain = String::from_utf8_lossy(body);
        state
            .sealer
            .seal(&plain, &seal_context(t, key))
            .into_bytes()
    } else {
        body.to_vec()
    };
    StoredResponse {
        status: parts.status.as_u16(),
        body,
    }
}

fn seal_context(t: &IdempotencyScope, key: &str) -> String {
    format!("idempotency:{t}:{key}")
}

fn replay(
    state: &AppState,
    t: &IdempotencyScope,
    key: &str,
    stored: StoredResponse,
) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let body = match std::str::from_utf8(&stored.body) {
        Ok(text) if crate::secrets::Sealer::is_sealed(text) => {
            match state.sealer.open(text, &seal_context(t, key)) {
                Ok(plain) => plain.into_bytes(),
                Err(e) => {
                    // Sealed under another master key (an instance configured apart).
                    tracing::warn!(error = %e, "a kept answer does not open");
                    return Err(not_replayable(
                        "The first answer to this Idempotency-Key cannot be shown again; start afresh with a new key".into(),
                    ));
                }
            }
        }
        _ => stored.body,
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(res)
}
