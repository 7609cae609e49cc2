//! Subscriptions: listed, read, cancelled, and in test mode moved through time.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::id::{CustomerId, PaymentLinkId, SubscriptionId};
use paylink_domain::subscription::{Subscription, SubscriptionStatus};
use paylink_domain::time::Timestamp;
use paylink_store::SubscriptionFilter;

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, Json, Query};
use crate::list_query;
use crate::state::AppState;
use crate::subscriptions;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Subscriptions";
    vec![
        route(
            Method::GET,
            "/v1/subscriptions",
            tag,
            "List subscriptions",
            Scope("subscriptions:read"),
            200,
            list::<Subscription>,
            list_subscriptions,
        )
        .query(params::<SubscriptionListQuery>),
        route(
            Method::GET,
            "/v1/subscriptions/{id}",
            tag,
            "Retrieve a subscription",
            Scope("subscriptions:read"),
            200,
            reg::<Subscription>,
            get_subscription,
        ),
        route(
            Method::POST,
            "/v1/subscriptions/{id}/cancel",
            tag,
            "Cancel a subscription now, or at the end of its period (emits subscription.canceled when it ends)",
            Scope("subscriptions:write"),
            200,
            reg::<Subscription>,
            cancel_subscription,
        )
        .errors(409, &["subscription_canceled", "subscription_status", "subscription_busy"])
        .errors(502, &["processor_unavailable"])
        .body(reg::<CancelIn>)
        .optional_body(),
        route(
            Method::PATCH,
            "/v1/subscriptions/{id}",
            tag,
            "Update a subscription: end it at its period's end, or keep it after all",
            Scope("subscriptions:write"),
            200,
            reg::<Subscription>,
            update_subscription,
        )
        .errors(409, &["subscription_canceled", "subscription_status", "subscription_busy"])
        .errors(502, &["processor_unavailable"])
        .body(reg::<SubscriptionPatch>),
        route(
            Method::POST,
            "/v1/subscriptions/{id}/test_clock/advance",
            tag,
            "Test mode: move the subscription's time forward, renewing, retrying and ending it as if the time had passed",
            Scope("subscriptions:write"),
            200,
            reg::<Subscription>,
            advance_test_clock,
        )
        .errors(400, &["test_clock_live_mode", "parameter_invalid"])
        .errors(409, &["subscription_busy"])
        .errors(502, &["processor_unavailable"])
        .body(reg::<AdvanceIn>),
    ]
}

list_query!(SubscriptionListQuery {
    status: Option<SubscriptionStatus>,
    payment_link_id: Option<PaymentLinkId>,
    customer_id: Option<CustomerId>,
});

pub async fn list_subscriptions(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<SubscriptionListQuery>,
) -> ApiResult<Response> {
    let f = SubscriptionFilter {
        status: q.status,
        payment_link_id: q.payment_link_id.clone(),
        customer_id: q.customer_id.clone(),
    };
    let l = state
        .store
        .list_subscriptions(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/subscriptions")))
}

pub async fn get_subscription(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SubscriptionId>,
) -> ApiResult<Response> {
    let r = state
        .store
        .get_subscription(&auth.tenant, &id)
        .await
        .map_err(not_found_as("subscription"))?;
    Ok(ok(&r.subscription))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelIn {
    /// End when the current period (or the trial) ends instead of now (default `false`:
    /// now). `PATCH /v1/subscriptions/{id}` `{"cancel_at_period_end": false}` takes an end
    /// at the period's end back.
    #[serde(default)]
    pub at_period_end: bool,
}

pub async fn cancel_subscription(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SubscriptionId>,
    Json(input): Json<CancelIn>,
) -> ApiResult<Response> {
    let r = subscriptions::cancel(&state, &auth.tenant, &id, input.at_period_end).await?;
    Ok(ok(&r.subscription))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    /// `true`: end when the current period (or the trial) ends; `false`: go on renewing.
    pub cancel_at_period_end: bool,
}

pub async fn update_subscription(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SubscriptionId>,
    Json(input): Json<SubscriptionPatch>,
) -> ApiResult<Response> {
    let r = subscriptions::end_at_period_end(&state, &auth.tenant, &id, input.cancel_at_period_end)
        .await?;
    Ok(ok(&r.subscription))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceIn {
    /// The time to move to (RFC 3339): not before the subscription's current time, at most
    /// three years after it.
    pub to: Timestamp,
}

pub async fn advance_test_clock(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SubscriptionId>,
    Json(input): Json<AdvanceIn>,
) -> ApiResult<Response> {
    if auth.tenant.livemode() {
        return Err(ApiError::invalid(
            "test_clock_live_mode",
            "id",
            "Test clocks run in test mode only",
        ));
    }
    let r = subscriptions::advance(&state, &auth.tenant, &id, input.to).await?;
    Ok(ok(&r.subscription))
}
