//! Per-key rate limiting (a GCRA token bucket per API key, in memory per process).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn per_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(auth) = req.extensions().get::<Auth>() {
        if let Err(not_until) = state.key_limiter.check_key(&auth.credential().to_owned()) {
            return Err(ApiError::rate_limited(
                "Too many requests with this API key; slow down",
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
    }
    Ok(next.run(req).await)
}

/// Per-client-IP limiting of the public routes; also scopes their idempotency keys.
pub async fn per_ip(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = addr.ip();
    if let Err(not_until) = state.ip_limiter.check_key(&ip) {
        return Err(ApiError::rate_limited(
            "Too many requests; slow down",
            not_until.wait_time_from(DefaultClock::default().now()),
        ));
    }
    req.extensions_mut()
        .insert(crate::idempotency::IdempotencyScope::Client(ip));
    Ok(next.run(req).await)
}
