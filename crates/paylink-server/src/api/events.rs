//! The event log: what happened, newest first, and queueing an event for delivery again.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Serialize;

use paylink_domain::event::Event;
use paylink_domain::id::EventId;
use paylink_domain::time::Timestamp;
use paylink_store::EventFilter;

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::{ok, reply, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Account";
    vec![
        route(
            Method::GET,
            "/v1/events",
            tag,
            "List events",
            Scope("events:read"),
            200,
            list::<Event>,
            list_events,
        )
        .query(params::<EventListQuery>),
        route(
            Method::GET,
            "/v1/events/{id}",
            tag,
            "Retrieve an event",
            Scope("events:read"),
            200,
            reg::<Event>,
            get_event,
        ),
        route(
            Method::POST,
            "/v1/events/{id}/redeliver",
            tag,
            "Queue an event for delivery again",
            Scope("webhooks:write"),
            202,
            reg::<Redelivered>,
            redeliver,
        ),
    ]
}

list_query!(EventListQuery with created {
    /// An event type such as `payment_link.created`.
    #[serde(rename = "type")]
    kind: Option<String>,
});

pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EventListQuery>,
) -> ApiResult<Response> {
    let f = EventFilter {
        kind: q.kind.clone(),
        created: q.created()?,
    };
    let l = state
        .store
        .list_events(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/events")))
}

pub async fn get_event(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EventId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_event(&auth.tenant, &id)
        .await
        .map_err(not_found_as("event"))?))
}

pub async fn redeliver(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EventId>,
) -> ApiResult<Response> {
    let n = state
        .store
        .redeliver_event(&auth.tenant, &id, Timestamp::now())
        .await
        .map_err(not_found_as("event"))?;
    Ok(reply(
        StatusCode::ACCEPTED,
        &Redelivered {
            id: id.to_string(),
            object: "event",
            deliveries_queued: n,
        },
    ))
}

/// An event queued again: how many deliveries (one per enabled endpoint that wants it).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Redelivered {
    pub id: String,
    #[schema(value_type = String, example = "event")]
    pub object: &'static str,
    pub deliveries_queued: u64,
}
