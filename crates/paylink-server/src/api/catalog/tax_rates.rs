//! Tax rates.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::catalog::TaxRate;
use paylink_domain::id::TaxRateId;
use paylink_domain::metadata::Metadata;
use paylink_domain::tax::TaxPercentage;
use paylink_domain::text::bounded;
use paylink_domain::time::Timestamp;
use paylink_store::TaxRateFilter;

use crate::api::path::PathId;
use crate::api::routes::{list, params, reg, route, Route};
use crate::api::{not_found_as, List};

use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

use super::{only_null, yes};

/// The routes of this module's handlers (see [`crate::api::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Catalog";
    vec![
        // tax rates
        route(
            Method::POST,
            "/v1/tax_rates",
            tag,
            "Create a tax rate",
            Scope("tax_rates:write"),
            201,
            reg::<TaxRate>,
            create_tax_rate,
        )
        .body(reg::<TaxRateIn>),
        route(
            Method::GET,
            "/v1/tax_rates",
            tag,
            "List tax rates",
            Scope("tax_rates:read"),
            200,
            list::<TaxRate>,
            list_tax_rates,
        )
        .query(params::<TaxRateListQuery>),
        route(
            Method::GET,
            "/v1/tax_rates/{id}",
            tag,
            "Retrieve a tax rate",
            Scope("tax_rates:read"),
            200,
            reg::<TaxRate>,
            get_tax_rate,
        ),
        route(
            Method::PATCH,
            "/v1/tax_rates/{id}",
            tag,
            "Update a tax rate",
            Scope("tax_rates:write"),
            200,
            reg::<TaxRate>,
            update_tax_rate,
        )
        .body(reg::<TaxRatePatch>),
    ]
}

// ---- tax rates -----------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRateIn {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub display_name: String,
    /// Decimal string with up to 4 places, 0–100 (`"8.25"`).
    pub percentage: TaxPercentage,
    #[serde(default)]
    pub inclusive: bool,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// `percentage` and `inclusive` are fixed once created, so that what was charged can
/// always be explained; create a new rate instead.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRatePatch {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub display_name: Option<String>,
    pub active: Option<bool>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// Fixed once created: only `null` is taken (create a new tax rate instead).
    #[schema(schema_with = only_null)]
    pub percentage: Option<serde_json::Value>,
    /// Fixed once created: only `null` is taken.
    #[schema(schema_with = only_null)]
    pub inclusive: Option<serde_json::Value>,
}

pub async fn create_tax_rate(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<TaxRateIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    bounded(&input.display_name, "display_name", 1, 50)?;
    let now = Timestamp::now();
    let r = TaxRate {
        id: TaxRateId::generate(),
        display_name: input.display_name,
        percentage: input.percentage,
        inclusive: input.inclusive,
        active: input.active,
        metadata: Metadata::parse(input.metadata)?,
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_tax_rate(t, &r).await?;
    Ok(created(&r))
}

pub async fn get_tax_rate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<TaxRateId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_tax_rate(&auth.tenant, &id)
        .await
        .map_err(not_found_as("tax rate"))?))
}

pub async fn update_tax_rate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<TaxRateId>,
    Json(patch): Json<TaxRatePatch>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    for (field, v) in [
        ("percentage", &patch.percentage),
        ("inclusive", &patch.inclusive),
    ] {
        if v.is_some() {
            return Err(ApiError::invalid(
                "parameter_immutable",
                field,
                format!("`{field}` cannot change after creation; create a new tax rate"),
            ));
        }
    }
    let mut r = state
        .store
        .get_tax_rate(t, &id)
        .await
        .map_err(not_found_as("tax rate"))?;
    if let Some(v) = patch.display_name {
        bounded(&v, "display_name", 1, 50)?;
        r.display_name = v;
    }
    if let Some(v) = patch.active {
        r.active = v;
    }
    if let Some(m) = patch.metadata {
        r.metadata = r.metadata.merged(m)?;
    }
    r.updated_at = Timestamp::now();
    state.store.update_tax_rate(t, &r).await?;
    Ok(ok(&r))
}

list_query!(TaxRateListQuery {
    active: Option<bool>,
});

pub async fn list_tax_rates(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<TaxRateListQuery>,
) -> ApiResult<Response> {
    let f = TaxRateFilter { active: q.active };
    let l = state
        .store
        .list_tax_rates(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/tax_rates")))
}
