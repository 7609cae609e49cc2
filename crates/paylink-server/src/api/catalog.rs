//! Products (and, in submodules, customers and tax rates): the catalog.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::catalog::{Inventory, Product, MAX_QUANTITY};
use paylink_domain::id::{ProductId, TaxRateId};
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::patch::Patch;
use paylink_domain::text::{bounded, bounded_opt, https_url};
use paylink_domain::time::Timestamp;
use paylink_store::{ProductFilter, Tenant};

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, settings, List};
use paylink_domain::link::{validate_currency_options, CurrencyOptions};

use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

mod customers;
mod tax_rates;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Catalog";
    let mut routes = vec![
        // products
        route(
            Method::POST,
            "/v1/products",
            tag,
            "Create a product",
            Scope("products:write"),
            201,
            reg::<Product>,
            create_product,
        )
        .body(reg::<ProductIn>),
        route(
            Method::GET,
            "/v1/products",
            tag,
            "List products",
            Scope("products:read"),
            200,
            list::<Product>,
            list_products,
        )
        .query(params::<ProductListQuery>),
        route(
            Method::GET,
            "/v1/products/{id}",
            tag,
            "Retrieve a product",
            Scope("products:read"),
            200,
            reg::<Product>,
            get_product,
        ),
        route(
            Method::PATCH,
            "/v1/products/{id}",
            tag,
            "Update a product",
            Scope("products:write"),
            200,
            reg::<Product>,
            update_product,
        )
        .body(reg::<ProductPatch>),
        route(
            Method::DELETE,
            "/v1/products/{id}",
            tag,
            "Archive a product",
            Scope("products:write"),
            200,
            reg::<Product>,
            archive_product,
        ),
    ];
    routes.extend(customers::routes());
    routes.extend(tax_rates::routes());
    routes
}

/// The schema of a field that takes only `null`.
pub(super) fn only_null() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

// ---- products ------------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIn {
    #[schema(
        min_length = 1,
        max_length = 250,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[schema(
        min_length = 0,
        max_length = 5000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<String>,
    #[schema(
        max_length = 2048,
        pattern = r"^https://[^/?#\s\u0000-\u001F\u007F-\u009F][^\s\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub image_url: Option<String>,
    pub unit_amount: Amount,
    /// Default: the merchant's `default_currency`.
    pub currency: Option<Currency>,
    /// Prices in other currencies buyers may pay in (`{"EUR": {"unit_amount": 900}}`).
    #[serde(default)]
    #[schema(schema_with = paylink_domain::prices::currency_options_schema)]
    pub currency_options: CurrencyOptions,
    pub tax_rate_id: Option<TaxRateId>,
    #[serde(default)]
    pub hsa_fsa_eligible: bool,
    pub inventory: Option<Inventory>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

pub(super) fn yes() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(
        min_length = 1,
        max_length = 250,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = product_description)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = image_url_or_null)]
    pub image_url: Patch<String>,
    pub unit_amount: Option<Amount>,
    pub currency: Option<Currency>,
    /// Replaces the whole map.
    #[schema(schema_with = paylink_domain::prices::currency_options_or_null)]
    pub currency_options: Option<CurrencyOptions>,
    #[serde(default)]
    pub tax_rate_id: Patch<TaxRateId>,
    pub hsa_fsa_eligible: Option<bool>,
    /// `null` stops tracking stock; `{"available": n}` sets it.
    #[serde(default)]
    pub inventory: Patch<Inventory>,
    pub active: Option<bool>,
    /// Keys set to `""` are removed.
    pub metadata: Option<BTreeMap<String, String>>,
}

fn check_product(p: &Product) -> ApiResult<()> {
    bounded(&p.name, "name", 1, 250)?;
    bounded_opt(p.description.as_deref(), "description", 0, 5000)?;
    if let Some(u) = &p.image_url {
        https_url(u, "image_url")?;
    }
    validate_currency_options(&p.currency_options, p.currency, "currency_options")?;
    if p.inventory.is_some_and(|i| i.available > MAX_QUANTITY) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "inventory.available",
            format!("`inventory.available` must be between 0 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

async fn check_tax_rate(state: &AppState, t: &Tenant, id: &Option<TaxRateId>) -> ApiResult<()> {
    if let Some(id) = id {
        state.store.get_tax_rate(t, id).await.map_err(|_| {
            ApiError::missing_reference("tax_rate_not_found", "tax_rate_id", "tax rate")
        })?;
    }
    Ok(())
}

pub async fn create_product(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<ProductIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let currency = match input.currency {
        Some(c) => c,
        None => settings(&state, t).await?.default_currency,
    };
    let now = Timestamp::now();
    let p = Product {
        id: ProductId::generate(),
        name: input.name,
        description: input.description,
        image_url: input.image_url,
        unit_amount: input.unit_amount,
        currency,
        currency_options: input.currency_options,
        tax_rate_id: input.tax_rate_id,
        hsa_fsa_eligible: input.hsa_fsa_eligible,
        inventory: input.inventory,
        active: input.active,
        metadata: Metadata::parse(input.metadata)?,
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    };
    check_product(&p)?;
    check_tax_rate(&state, t, &p.tax_rate_id).await?;
    state.store.insert_product(t, &p).await?;
    Ok(created(&p))
}

pub async fn get_product(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ProductId>,
) -> ApiResult<Response> {
    let p = state
        .store
        .get_product(&auth.tenant, &id)
        .await
        .map_err(not_found_as("product"))?;
    Ok(ok(&p))
}

pub async fn update_product(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ProductId>,
    Json(patch): Json<ProductPatch>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let mut p = state
        .store
        .get_product(t, &id)
        .await
        .map_err(not_found_as("product"))?;
    let set_inventory = !patch.inventory.is_absent();
    if let Some(v) = patch.name {
        p.name = v;
    }
    p.description = patch.description.apply(p.description);
    p.image_url = patch.image_url.apply(p.image_url);
    if let Some(v) = patch.unit_amount {
        p.unit_amount = v;
    }
    if let Some(v) = &patch.currency_options {
        p.currency_options = v.clone();
    }
    if let Some(v) = patch.currency {
        p.currency = v;
    }
    if !patch.tax_rate_id.is_absent() {
        p.tax_rate_id = patch.tax_rate_id.apply(p.tax_rate_id);
        check_tax_rate(&state, t, &p.tax_rate_id).await?;
    }
    if let Some(v) = patch.hsa_fsa_eligible {
        p.hsa_fsa_eligible = v;
    }
    p.inventory = patch.inventory.apply(p.inventory);
    if let Some(v) = patch.active {
        p.active = v;
    }
    if let Some(m) = patch.metadata {
        p.metadata = p.metadata.merged(m)?;
    }
    p.updated_at = Timestamp::now();
    check_product(&p)?;
    state.store.update_product(t, &p, set_inventory).await?;
    Ok(ok(&state.store.get_product(t, &id).await?))
}

/// Archives: the product stays readable and in existing links' snapshots.
pub async fn archive_product(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ProductId>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let mut p = state
        .store
        .get_product(t, &id)
        .await
        .map_err(not_found_as("product"))?;
    p.active = false;
    p.updated_at = Timestamp::now();
    state.store.update_product(t, &p, false).await?;
    Ok(ok(&p))
}

list_query!(ProductListQuery {
    /// Only active (`true`) or archived (`false`) products.
    active: Option<bool>,
});

pub async fn list_products(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ProductListQuery>,
) -> ApiResult<Response> {
    let f = ProductFilter { active: q.active };
    let l = state
        .store
        .list_products(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/products")))
}

crate::patch_text_schema!(
    product_description,
    0,
    5000,
    paylink_domain::text::TEXT_PATTERN
);
crate::patch_text_schema!(
    image_url_or_null,
    0,
    2048,
    paylink_domain::text::HTTPS_URL_PATTERN
);
