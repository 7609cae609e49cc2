//! API keys: created (and shown) once, listed masked, revoked at once. Only secret keys and
//! people whose role holds `api_keys:write` manage keys (a restricted key never holds it),
//! and only keys of their own mode, so a test key can never mint a live one.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::access::Grant;
use paylink_domain::id::ApiKeyId;
use paylink_domain::text::bounded;
use paylink_domain::time::Timestamp;
use paylink_store::{ApiKeyRecord, Conflict, KeyKind, StoreError};

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{Deleted, List};
use crate::auth::Access::Scope;
use crate::auth::{new_key, Auth, SCOPES};
use crate::error::{ApiError, ApiResult};
use crate::idempotency::shown_once;
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Account";
    vec![
        route(
            Method::POST,
            "/v1/api_keys",
            tag,
            "Create an API key (shown once)",
            Scope("api_keys:write"),
            201,
            reg::<ApiKeyOut>,
            create_key,
        )
        .errors(400, &["parameters_exclusive", "parameter_required"])
        .body(reg::<ApiKeyIn>),
        route(
            Method::GET,
            "/v1/api_keys",
            tag,
            "List API keys (masked)",
            Scope("api_keys:read"),
            200,
            list::<ApiKeyOut>,
            list_keys,
        )
        .query(params::<ApiKeyListQuery>),
        route(
            Method::DELETE,
            "/v1/api_keys/{id}",
            tag,
            "Revoke an API key",
            Scope("api_keys:write"),
            200,
            reg::<Deleted>,
            revoke_key,
        )
        .errors(409, &["last_secret_key"]),
    ]
}

#[derive(Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KindIn {
    Secret,
    Restricted,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    pub kind: KindIn,
    /// Restricted keys only: the scopes they carry.
    #[serde(default)]
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<String>,
    /// Must match the mode of the key making the request (default: that mode).
    pub livemode: Option<bool>,
}

/// An array of [`SCOPES`].
fn scopes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(SCOPES.iter().copied())),
        )
        .build()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyOut {
    pub id: String,
    #[schema(value_type = String, example = "api_key")]
    pub object: &'static str,
    pub name: String,
    pub kind: &'static str,
    pub scopes: Vec<String>,
    pub livemode: bool,
    /// `sk_test_…abcd`
    pub masked: String,
    /// The key itself: present only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

fn out(r: ApiKeyRecord, key: Option<String>) -> ApiKeyOut {
    ApiKeyOut {
        id: r.id.to_string(),
        object: "api_key",
        name: r.name,
        kind: r.kind.as_str(),
        scopes: r.scopes,
        livemode: r.livemode,
        masked: r.masked,
        key,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
    }
}

pub async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<ApiKeyIn>,
) -> ApiResult<Response> {
    bounded(&input.name, "name", 1, 100)?;
    let livemode = input.livemode.unwrap_or(auth.tenant.livemode());
    if livemode != auth.tenant.livemode() {
        return Err(ApiError::forbidden(
            "A key can only create keys of its own mode",
        ));
    }
    // The contract: only owners make live keys.
    if livemode
        && matches!(auth.grant, Grant::Member(r) if r != paylink_domain::access::Role::Owner)
    {
        return Err(ApiError::forbidden("Only an owner can create live keys"));
    }
    let kind = match input.kind {
        KindIn::Secret => {
            if !input.scopes.is_empty() {
                return Err(ApiError::invalid(
                    "parameters_exclusive",
                    "scopes",
                    "Secret keys carry every scope; omit `scopes`",
                ));
            }
            KeyKind::Secret
        }
        KindIn::Restricted => {
            if input.scopes.is_empty() {
                return Err(ApiError::invalid(
                    "parameter_required",
                    "scopes",
                    "A restricted key needs at least one scope",
                ));
            }
            for (i, s) in input.scopes.iter().enumerate() {
                if !SCOPES.contains(&s.as_str()) {
                    return Err(ApiError::invalid(
                        "parameter_invalid",
                        format!("scopes[{i}]"),
                        format!("Unknown scope `{s}`"),
                    ));
                }
            }
            KeyKind::Restricted
        }
    };
    // Whoever mints a key holds at least what it will: a developer's session never mints
    // a secret key (one that could refund, change settings or manage the team).
    let grant = match kind {
        KeyKind::Secret => Grant::SecretKey,
        KeyKind::Restricted => Grant::Restricted(input.scopes.clone()),
    };
    if !auth.grant.covers(&grant) {
        return Err(ApiError::forbidden(match kind {
            KeyKind::Secret => "Only owners and admins can create secret keys".to_owned(),
            KeyKind::Restricted => {
                "A restricted key can carry only scopes its creator holds".to_owned()
            }
        }));
    }
    let (secret, record) = new_key(
        auth.tenant.merchant_id(),
        kind,
        livemode,
        input.name,
        input.scopes,
    );
    state.store.insert_api_key(&record).await?;
    let id = record.id.clone();
    Ok(shown_once(
        created(&out(record, Some(secret))),
        "API key",
        id,
    ))
}

list_query!(ApiKeyListQuery {});

pub async fn list_keys(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ApiKeyListQuery>,
) -> ApiResult<Response> {
    let l = state.store.list_api_keys(&auth.tenant, &q.page()?).await?;
    Ok(ok(&List::new(l.map(|k| out(k, None)), "/v1/api_keys")))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ApiKeyId>,
) -> ApiResult<Response> {
    let revoked = state
        .store
        .revoke_api_key(&auth.tenant, &id, Timestamp::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("API key"),
            StoreError::Conflict(Conflict::LastSecretKey) => ApiError::conflict(
                "last_secret_key",
                "This is the mode's last active secret key; create another before revoking it \
                 (or, locked out, run `paylink key create --merchant …`)",
            ),
            e => e.into(),
        })?;
    state.forget_api_key(&revoked.key_hash);
    Ok(ok(&Deleted::new(id, "api_key")))
}
