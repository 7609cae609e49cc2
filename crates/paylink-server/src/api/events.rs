//! The event log: what happened, newest first.

use axum::extract::{Path, State};
use axum::response::Response;

use paylink_domain::id::EventId;
use paylink_store::EventFilter;

use super::{created, not_found_as, path_id, List};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::{ok, Query};
use crate::list_query;
use crate::state::AppState;

list_query!(EventListQuery {
    /// An event type such as `payment_link.created`.
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "created[gte]")]
    created_gte: Option<String>,
    #[serde(rename = "created[lte]")]
    created_lte: Option<String>,
});

pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EventListQuery>,
) -> ApiResult<Response> {
    let f = EventFilter {
        kind: q.kind.clone(),
        created: created(&q.created_gte, &q.created_lte)?,
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
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&id, EventId::parse, "event")?;
    Ok(ok(&state
        .store
        .get_event(&auth.tenant, &id)
        .await
        .map_err(not_found_as("event"))?))
}
