//! Webhook endpoints: the secret is shown at creation and on rotation only.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::event::EventType;
use paylink_domain::id::WebhookEndpointId;
use paylink_domain::text::bounded_opt;
use paylink_domain::time::Timestamp;
use paylink_domain::webhook::{EndpointStatus, WebhookEndpoint};
use paylink_store::DeliveryAttempt;

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, Deleted, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::shown_once;
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;
use crate::webhooks::sign::new_secret;
use crate::webhooks::ssrf::Guard;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Webhooks";
    vec![
        route(
            Method::POST,
            "/v1/webhook_endpoints",
            tag,
            "Create a webhook endpoint (its secret is shown once)",
            Scope("webhooks:write"),
            201,
            reg::<EndpointWithSecret>,
            create_endpoint,
        )
        .errors(400, &["invalid_webhook_url", "webhook_url_refused"])
        .body(reg::<EndpointIn>),
        route(
            Method::GET,
            "/v1/webhook_endpoints",
            tag,
            "List webhook endpoints",
            Scope("webhooks:read"),
            200,
            list::<WebhookEndpoint>,
            list_endpoints,
        )
        .query(params::<EndpointListQuery>),
        route(
            Method::GET,
            "/v1/webhook_endpoints/{id}",
            tag,
            "Retrieve a webhook endpoint",
            Scope("webhooks:read"),
            200,
            reg::<WebhookEndpoint>,
            get_endpoint,
        ),
        route(
            Method::PATCH,
            "/v1/webhook_endpoints/{id}",
            tag,
            "Update a webhook endpoint",
            Scope("webhooks:write"),
            200,
            reg::<WebhookEndpoint>,
            update_endpoint,
        )
        .errors(400, &["invalid_webhook_url", "webhook_url_refused"])
        .body(reg::<EndpointPatch>),
        route(
            Method::DELETE,
            "/v1/webhook_endpoints/{id}",
            tag,
            "Delete a webhook endpoint",
            Scope("webhooks:write"),
            200,
            reg::<Deleted>,
            delete_endpoint,
        ),
        route(
            Method::POST,
            "/v1/webhook_endpoints/{id}/rotate_secret",
            tag,
            "Rotate the signing secret (both sign during the overlap)",
            Scope("webhooks:write"),
            200,
            reg::<EndpointWithSecret>,
            rotate_secret,
        )
        .body(reg::<RotateIn>),
        route(
            Method::GET,
            "/v1/webhook_endpoints/{id}/deliveries",
            tag,
            "List delivery attempts",
            Scope("webhooks:read"),
            200,
            list::<AttemptOut>,
            list_deliveries,
        )
        .query(params::<AttemptListQuery>),
    ]
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    /// An http(s) URL whose host resolves to public addresses only.
    #[schema(
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(?::(?:[0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$"
    )]
    pub url: String,
    /// Event types, or `["*"]`.
    #[schema(schema_with = event_types)]
    pub enabled_events: Vec<String>,
    #[schema(
        min_length = 0,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    /// An http(s) URL whose host resolves to public addresses only.
    #[schema(
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(?::(?:[0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$"
    )]
    pub url: Option<String>,
    #[schema(schema_with = event_types_or_null)]
    pub enabled_events: Option<Vec<String>>,
    #[schema(
        min_length = 0,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<String>,
    /// `enabled` or `disabled`; enabling restarts the failure clock.
    pub status: Option<EndpointStatus>,
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old secret still signs (default 86400, at most 7 days).
    #[schema(minimum = 0, maximum = 604800)]
    pub overlap_seconds: Option<i64>,
}

/// An endpoint together with its secret: only in answers to create and rotate.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptOut {
    pub event_id: String,
    pub attempted_at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

impl From<DeliveryAttempt> for AttemptOut {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            event_id: a.event_id,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// 1–50 event types, or `"*"`: what [`check_events`] takes.
fn event_types() -> utoipa::openapi::schema::Array {
    event_types_of(utoipa::openapi::schema::Type::Array.into())
}

/// [`event_types`], or `null` (left as it is).
fn event_types_or_null() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    event_types_of(SchemaType::from_iter([Type::Array, Type::Null]))
}

fn event_types_of(kind: utoipa::openapi::schema::SchemaType) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let names = EventType::ALL.iter().map(|t| t.as_str()).chain(["*"]);
    ArrayBuilder::new()
        .schema_type(kind)
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .min_items(Some(1))
        .max_items(Some(50))
        .build()
}

fn check_events(events: &[String]) -> ApiResult<()> {
    if events.is_empty() || events.len() > 50 {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "enabled_events",
            "List 1–50 event types, or [\"*\"]",
        ));
    }
    for (i, e) in events.iter().enumerate() {
        if e != "*" && EventType::parse(e).is_none() {
            return Err(ApiError::invalid(
                "parameter_invalid",
                format!("enabled_events[{i}]"),
                format!("Unknown event type `{e}`"),
            ));
        }
    }
    Ok(())
}

/// Refuses URLs that are malformed or reach internal addresses (checked again at delivery).
async fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    let guard = Guard::from_config(state.config.webhook_allow_networks.as_deref())
        .map_err(ApiError::internal)?;
    let parsed = Guard::parse(url)
        .map_err(|e| ApiError::invalid("invalid_webhook_url", "url", e.to_string()))?;
    guard
        .resolve(&parsed)
        .await
        .map_err(|e| ApiError::invalid("webhook_url_refused", "url", e.to_string()))?;
    Ok(())
}

pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<EndpointIn>,
) -> ApiResult<Response> {
    check_events(&input.enabled_events)?;
    bounded_opt(input.description.as_deref(), "description", 0, 500)?;
    check_url(&state, &input.url).await?;
    let now = Timestamp::now();
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        url: input.url,
        enabled_events: input.enabled_events,
        description: input.description,
        status: EndpointStatus::Enabled,
        livemode: auth.tenant.livemode(),
        created_at: now,
        updated_at: now,
    };
    let secret = new_secret();
    let sealed = state.sealer.seal(&secret, endpoint.id.as_str());
    state
        .store
        .insert_webhook_endpoint(&auth.tenant, &endpoint, &sealed)
        .await?;
    let id = endpoint.id.clone();
    Ok(shown_once(
        created(&EndpointWithSecret { endpoint, secret }),
        "webhook endpoint",
        id,
    ))
}

pub async fn get_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_webhook_endpoint(&auth.tenant, &id)
        .await
        .map_err(not_found_as("webhook endpoint"))?))
}

list_query!(EndpointListQuery {});

pub async fn list_endpoints(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EndpointListQuery>,
) -> ApiResult<Response> {
    let l = state
        .store
        .list_webhook_endpoints(&auth.tenant, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/webhook_endpoints")))
}

pub async fn update_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
    Json(p): Json<EndpointPatch>,
) -> ApiResult<Response> {
    let mut e = state
        .store
        .get_webhook_endpoint(&auth.tenant, &id)
        .await
        .map_err(not_found_as("webhook endpoint"))?;
    if let Some(url) = p.url {
        check_url(&state, &url).await?;
        e.url = url;
    }
    if let Some(events) = p.enabled_events {
        check_events(&events)?;
        e.enabled_events = events;
    }
    if let Some(d) = p.description {
        bounded_opt(Some(&d), "description", 0, 500)?;
        e.description = Some(d);
    }
    if let Some(s) = p.status {
        e.status = s;
    }
    e.updated_at = Timestamp::now();
    state
        .store
        .update_webhook_endpoint(&auth.tenant, &e)
        .await?;
    Ok(ok(&e))
}

pub async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
) -> ApiResult<Response> {
    state
        .store
        .delete_webhook_endpoint(&auth.tenant, &id)
        .await
        .map_err(not_found_as("webhook endpoint"))?;
    Ok(ok(&Deleted::new(id, "webhook_endpoint")))
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
    Json(r): Json<RotateIn>,
) -> ApiResult<Response> {
    let overlap = r.overlap_seconds.unwrap_or(86_400);
    if !(0..=7 * 86_400).contains(&overlap) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "overlap_seconds",
            "`overlap_seconds` must be 0 to 604800",
        ));
    }
    let endpoint = state
        .store
        .get_webhook_endpoint(&auth.tenant, &id)
        .await
        .map_err(not_found_as("webhook endpoint"))?;
    let secret = new_secret();
    state
        .store
        .rotate_webhook_secret(
            &auth.tenant,
            &id,
            &state.sealer.seal(&secret, id.as_str()),
            Timestamp::now().plus_seconds(overlap),
        )
        .await?;
    Ok(shown_once(
        ok(&EndpointWithSecret { endpoint, secret }),
        "webhook endpoint",
        id,
    ))
}

/// The newest attempts first. Attempts have no id of their own for a cursor to name, so
/// this list takes no `starting_after` / `ending_before` (they used to be taken and
/// ignored, which sent a client paging through it round in circles).
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptListQuery {
    /// 1–100, default 10
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl AttemptListQuery {
    fn page(&self) -> ApiResult<paylink_store::Page> {
        super::page(self.limit, &None, &None)
    }
}

pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<AttemptListQuery>,
    PathId(endpoint_id): PathId<WebhookEndpointId>,
) -> ApiResult<Response> {
    let l = state
        .store
        .list_delivery_attempts(&auth.tenant, &endpoint_id, &q.page()?)
        .await
        .map_err(not_found_as("webhook endpoint"))?;
    Ok(ok(&List::new(
        l.map(AttemptOut::from),
        &format!("/v1/webhook_endpoints/{endpoint_id}/deliveries"),
    )))
}
