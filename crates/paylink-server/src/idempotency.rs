//! `Idempotency-Key` on every POST, PATCH and DELETE of the merchant API.
//!
//! The key is scoped to the merchant and mode. The first request claims it; a retry with
//! the same body gets the first response byte for byte with `Idempotent-Replayed: true`;
//! the same key with another request is `422 idempotency_key_reused`; a retry while the
//! first is still running is `409 idempotency_key_in_use`. Responses of 5xx release the
//! key so the retry can run again. Because the claim is one atomic insert, two identical
//! requests racing produce one object.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use paylink_domain::time::Timestamp;
use paylink_store::{IdempotencyBegin, StoredResponse};

use crate::error::ApiError;
use crate::json::{too_large, MAX_BODY};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// Whose keys these are: the merchant and mode for the API, a per-client-IP scope for the
/// public checkout routes (so customers can never collide with each other's keys).
#[derive(Clone, Debug)]
pub struct IdempotencyScope(pub paylink_store::Tenant);

pub async fn layer(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE) {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get(HEADER) else {
        return Ok(next.run(req).await);
    };
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
    let Some(IdempotencyScope(scope)) = req.extensions().get::<IdempotencyScope>().cloned() else {
        return Ok(next.run(req).await);
    };

    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| too_large())?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"?");
    hasher.update(parts.uri.query().unwrap_or(""));
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());

    let t = &scope;
    match state
        .store
        .idempotency_begin(t, &key, &fingerprint, Timestamp::now())
        .await?
    {
        IdempotencyBegin::Started => {}
        IdempotencyBegin::Replay(stored) => return Ok(replay(stored)),
        IdempotencyBegin::InFlight => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_error",
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry shortly",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        IdempotencyBegin::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_error",
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request",
            ))
        }
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
    let stored = StoredResponse {
        status: status.as_u16(),
        body: body.to_vec(),
    };
    state.store.idempotency_finish(t, &key, &stored).await?;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = (status, stored.body).into_response();
    let h = res.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}
