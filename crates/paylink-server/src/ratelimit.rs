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
        if let Err(not_until) = state.key_limiter.check_key(&auth.key_id.to_string()) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut e = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_exceeded",
                "Too many requests with this API key; slow down",
            );
            e.retry_after = Some(wait.as_secs().max(1));
            return Err(e);
        }
    }
    Ok(next.run(req).await)
}
