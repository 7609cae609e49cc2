//! The audit log: every successful write through the API (by a key or a person), sign-ins
//! and failed ones, key, team and password changes — who, what, when and from where.
//! Writes through the API are recorded by one layer ([`layer`]), named from the route
//! (`payment_links.create`, `team.members.update`); the accounts layer records the rest
//! where it happens.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use paylink_domain::id::AuditEntryId;
use paylink_domain::time::Timestamp;
use paylink_store::{Actor, AuditEntry, AuditFilter};

use super::{record, Origin};
use crate::api::routes::{list, params, route, Route};
use crate::api::List;
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::{ok, Query};
use crate::list_query;
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![route(
        Method::GET,
        "/v1/audit_log",
        "Team",
        "The merchant's audit log (owners and admins)",
        Scope("audit_log:read"),
        200,
        list::<AuditEntryOut>,
        list_audit,
    )
    .query(params::<AuditLogQuery>)]
}

/// Who did it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActorOut {
    /// `user`, `api_key` or `anonymous`
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntryOut {
    pub id: AuditEntryId,
    #[schema(value_type = String, example = "audit_entry")]
    pub object: &'static str,
    pub actor: ActorOut,
    /// `user.login`, `user.login_failed`, `payment_links.create`, `api_keys.delete`, …
    pub action: String,
    pub object_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

fn out(e: AuditEntry) -> AuditEntryOut {
    AuditEntryOut {
        id: e.id,
        object: "audit_entry",
        actor: ActorOut {
            kind: e.actor.kind(),
            id: e.actor.id().map(str::to_owned),
        },
        action: e.action,
        object_id: e.object_id,
        ip: e.ip,
        user_agent: e.user_agent,
        created_at: e.created_at,
    }
}

list_query!(AuditLogQuery with created {
    /// A user or key id.
    #[param(max_length = 64)]
    actor_id: Option<String>,
    /// An action such as `user.login`.
    #[param(max_length = 100)]
    action: Option<String>,
});

pub async fn list_audit(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<AuditLogQuery>,
) -> ApiResult<axum::response::Response> {
    // The filters' bounds, as the document gives them.
    for (param, value, max) in [("actor_id", &q.actor_id, 64), ("action", &q.action, 100)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(crate::error::ApiError::invalid(
                "parameter_invalid",
                param,
                format!("`{param}` must be at most {max} characters"),
            ));
        }
    }
    let filter = AuditFilter {
        actor_id: q.actor_id.clone(),
        action: q.action.clone(),
        created: q.created()?,
    };
    // What this process was asked to record is in the log before it is read.
    state.journal.flush().await;
    let l = state
        .store
        .list_audit(auth.tenant.merchant_id(), &filter, &q.page()?)
        .await?;
    Ok(ok(&List::new(l.map(out), "/v1/audit_log")))
}

/// The action a write through `path` (the route's pattern) is recorded as.
pub fn action_of(method: &Method, path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let named: Vec<&str> = segments
        .iter()
        .copied()
        .filter(|s| !s.starts_with('{'))
        .collect();
    let has_id = segments.iter().any(|s| s.starts_with('{'));
    let ends_with_id = segments.last().is_some_and(|s| s.starts_with('{'));
    let verb = match *method {
        Method::POST if !has_id => Some("create"),
        Method::POST if ends_with_id => Some("update"),
        Method::POST => None,
        Method::PATCH | Method::PUT => Some("update"),
        Method::DELETE => Some("delete"),
        _ => Some("read"),
    };
    let mut action = named.join(".");
    if let Some(v) = verb {
        action.push('.');
        action.push_str(v);
    }
    action
}

/// The id a path names: the segment of `uri_path` where `pattern` has `{id}`.
fn path_id(pattern: &str, uri_path: &str) -> Option<String> {
    pattern
        .split('/')
        .zip(uri_path.split('/'))
        .find(|(p, _)| p.starts_with('{'))
        .map(|(_, v)| v.to_owned())
}

/// Records every successful write of the merchant API (not replays of one).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if method.is_safe() {
        return next.run(req).await;
    }
    let auth = req.extensions().get::<Auth>().cloned();
    let pattern = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let uri_path = req.uri().path().to_owned();
    let origin = Origin::of(crate::auth::client_ip(&req), req.headers());
    let res = next.run(req).await;
    let (Some(auth), Some(pattern)) = (auth, pattern) else {
        return res;
    };
    if !res.status().is_success() || res.headers().contains_key("idempotent-replayed") {
        return res;
    }
    let mut object_id = path_id(&pattern, &uri_path);
    let res = if object_id.is_none() {
        // A creation: the new object's id is in the answer.
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, crate::json::MAX_BODY * 16)
            .await
            .unwrap_or_default();
        // Only its `id` is read: the rest is skipped, not built.
        #[derive(serde::Deserialize)]
        struct Created {
            id: Option<String>,
        }
        object_id = serde_json::from_slice::<Created>(&bytes)
            .ok()
            .and_then(|c| c.id);
        Response::from_parts(parts, axum::body::Body::from(bytes))
    } else {
        res
    };
    let actor: Actor = auth.actor();
    record(
        &state,
        &[auth.tenant.merchant_id()],
        actor,
        &action_of(&method, &pattern),
        object_id,
        &origin,
    )
    .await;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_from_routes() {
        let a = |m: Method, p: &str| action_of(&m, p);
        assert_eq!(a(Method::POST, "/v1/payment_links"), "payment_links.create");
        assert_eq!(
            a(Method::POST, "/v1/payment_links/{id}"),
            "payment_links.update"
        );
        assert_eq!(
            a(Method::POST, "/v1/payments/{id}/refunds"),
            "payments.refunds"
        );
        assert_eq!(
            a(Method::PATCH, "/v1/team/members/{id}"),
            "team.members.update"
        );
        assert_eq!(a(Method::DELETE, "/v1/api_keys/{id}"), "api_keys.delete");
        assert_eq!(
            path_id("/v1/api_keys/{id}", "/v1/api_keys/key_1").as_deref(),
            Some("key_1")
        );
    }
}
