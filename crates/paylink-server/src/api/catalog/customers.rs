//! Customers.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::catalog::{Address, Customer};
use paylink_domain::id::CustomerId;
use paylink_domain::metadata::Metadata;
use paylink_domain::patch::Patch;
use paylink_domain::text::{bounded_opt, email};
use paylink_domain::time::Timestamp;
use paylink_store::CustomerFilter;

use crate::api::path::PathId;
use crate::api::routes::{list, params, reg, route, Route};
use crate::api::{not_found_as, Deleted, List};

use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`crate::api::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Catalog";
    vec![
        // customers
        route(
            Method::POST,
            "/v1/customers",
            tag,
            "Create a customer",
            Scope("customers:write"),
            201,
            reg::<Customer>,
            create_customer,
        )
        .body(reg::<CustomerIn>)
        .optional_body(),
        route(
            Method::GET,
            "/v1/customers",
            tag,
            "List customers",
            Scope("customers:read"),
            200,
            list::<Customer>,
            list_customers,
        )
        .query(params::<CustomerListQuery>),
        route(
            Method::GET,
            "/v1/customers/{id}",
            tag,
            "Retrieve a customer",
            Scope("customers:read"),
            200,
            reg::<Customer>,
            get_customer,
        ),
        route(
            Method::PATCH,
            "/v1/customers/{id}",
            tag,
            "Update a customer",
            Scope("customers:write"),
            200,
            reg::<Customer>,
            update_customer,
        )
        .body(reg::<CustomerPatch>),
        route(
            Method::DELETE,
            "/v1/customers/{id}",
            tag,
            "Delete a customer",
            Scope("customers:write"),
            200,
            reg::<Deleted>,
            delete_customer,
        ),
    ]
}

// ---- customers -----------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$"
    )]
    pub email: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[schema(pattern = r"^[0-9 +\-().]{3,32}$")]
    pub phone: Option<String>,
    pub address: Option<Address>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default)]
    #[schema(schema_with = email_or_null)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = customer_name)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = phone_or_null)]
    pub phone: Patch<String>,
    #[serde(default)]
    pub address: Patch<Address>,
    pub metadata: Option<BTreeMap<String, String>>,
}

fn check_customer(c: &Customer) -> ApiResult<()> {
    if let Some(e) = &c.email {
        email(e, "email")?;
    }
    bounded_opt(c.name.as_deref(), "name", 1, 256)?;
    if let Some(p) = &c.phone {
        let ok = (3..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_digit() || b" +-().".contains(&b));
        if !ok {
            return Err(ApiError::invalid(
                "phone_invalid",
                "phone",
                "`phone` must be 3–32 digits, spaces and + - ( ) .",
            ));
        }
    }
    if let Some(a) = &c.address {
        a.validate("address")?;
    }
    Ok(())
}

pub async fn create_customer(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<CustomerIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let now = Timestamp::now();
    let c = Customer {
        id: CustomerId::generate(),
        email: input.email,
        name: input.name,
        phone: input.phone,
        address: input.address,
        metadata: Metadata::parse(input.metadata)?,
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    };
    check_customer(&c)?;
    state.store.insert_customer(t, &c).await?;
    Ok(created(&c))
}

pub async fn get_customer(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CustomerId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_customer(&auth.tenant, &id)
        .await
        .map_err(not_found_as("customer"))?))
}

pub async fn update_customer(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CustomerId>,
    Json(patch): Json<CustomerPatch>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let mut c = state
        .store
        .get_customer(t, &id)
        .await
        .map_err(not_found_as("customer"))?;
    c.email = patch.email.apply(c.email);
    c.name = patch.name.apply(c.name);
    c.phone = patch.phone.apply(c.phone);
    c.address = patch.address.apply(c.address);
    if let Some(m) = patch.metadata {
        c.metadata = c.metadata.merged(m)?;
    }
    c.updated_at = Timestamp::now();
    check_customer(&c)?;
    state.store.update_customer(t, &c).await?;
    Ok(ok(&c))
}

pub async fn delete_customer(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CustomerId>,
) -> ApiResult<Response> {
    state
        .store
        .delete_customer(&auth.tenant, &id)
        .await
        .map_err(not_found_as("customer"))?;
    Ok(ok(&Deleted::new(id, "customer")))
}

list_query!(CustomerListQuery {
    /// Exact e-mail address.
    email: Option<String>,
});

pub async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CustomerListQuery>,
) -> ApiResult<Response> {
    let f = CustomerFilter {
        email: q.email.clone(),
    };
    let l = state
        .store
        .list_customers(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/customers")))
}

crate::patch_text_schema!(email_or_null, 0, 254, paylink_domain::text::EMAIL_PATTERN);
crate::patch_text_schema!(customer_name, 1, 256, paylink_domain::text::TEXT_PATTERN);
crate::patch_text_schema!(phone_or_null, 3, 32, paylink_domain::text::PHONE_PATTERN);
