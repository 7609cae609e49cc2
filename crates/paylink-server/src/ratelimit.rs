//! Rate limits: per API key and per client IP on the public routes (GCRA). In Redis when
//! it is configured, shared by every instance ([`crate::shared_limits`]); otherwise, and
//! whenever Redis cannot be reached, in this process's memory.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::shared_limits::Verdict;
use crate::state::AppState;

/// How long `key` must wait, if at all: Redis decides when it is configured and answers,
/// else the local limiter. `name` (Redis's key) is made only when Redis is asked.
async fn wait_for<K: Clone + std::hash::Hash + Eq>(
    state: &AppState,
    name: impl FnOnce() -> String,
    (per_second, burst): (u32, u32),
    local: &governor::DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Option<std::time::Duration> {
    let verdict = match &state.shared_limits {
        // The local limiter's burst is at least the rate; so is this one.
        Some(s) => s.check(&name(), per_second, burst.max(per_second)).await,
        None => Verdict::Unavailable,
    };
    match verdict {
        Verdict::Allowed => None,
        Verdict::Wait(d) => Some(d),
        Verdict::Unavailable => local
            .check_key(key)
            .err()
            .map(|n| n.wait_time_from(DefaultClock::default().now())),
    }
}

pub async fn per_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(auth) = req.extensions().get::<Auth>() {
        // A key's limit, or a person's (their session's credential).
        let key = auth.credential().to_owned();
        let c = &state.config;
        let rate = (c.rate_limit_per_second, c.rate_limit_burst);
        let name = || format!("key:{key}");
        if let Some(wait) = wait_for(&state, name, rate, &state.key_limiter, &key).await {
            return Err(ApiError::rate_limited(
                "Too many requests with this API key; slow down",
                wait,
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
    let c = &state.config;
    let rate = (c.public_rate_limit_per_second, c.public_rate_limit_burst);
    let name = || format!("ip:{ip}");
    if let Some(wait) = wait_for(&state, name, rate, &state.ip_limiter, &ip).await {
        return Err(ApiError::rate_limited("Too many requests; slow down", wait));
    }
    req.extensions_mut()
        .insert(crate::idempotency::IdempotencyScope::Client(ip));
    Ok(next.run(req).await)
}
