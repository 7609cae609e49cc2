//! The merchant API under `/v1`: one module per resource, each declaring its routes next to
//! its handlers; [`routes`] gathers them.

pub mod api_keys;
pub mod catalog;
pub mod emails;
pub mod events;
pub mod link_pricing;
pub mod orders;
pub mod path;
pub mod payment_links;
pub mod payments;
pub mod processors;
pub mod qr;
pub mod reports;
pub mod route_docs;
pub mod routes;
pub mod settings;
pub mod subscriptions;
pub mod webhook_endpoints;

use serde::Serialize;

use paylink_domain::time::Timestamp;
use paylink_store::{Created, Listed, Merchant, Page, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Declares `fn $name()`: the schema of a PATCH text field, `null` or text of
/// `$min..=$max` characters matching `$pattern` (the rules of `paylink_domain::text`).
#[macro_export]
macro_rules! patch_text_schema {
    ($name:ident, $min:expr, $max:expr, $pattern:expr) => {
        fn $name() -> utoipa::openapi::schema::Schema {
            paylink_domain::patch::or_null(paylink_domain::text::schema($min, $max, $pattern))
        }
    };
}

/// Declares a list endpoint's query: its filters plus `limit`, `starting_after` and
/// `ending_before`; unknown parameters are refused. `Name with created { … }` adds
/// `created[gte]` and `created[lte]` (RFC 3339 or Unix seconds) and `created()`.
#[macro_export]
macro_rules! list_query {
    ($(#[$meta:meta])* $name:ident with created { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $crate::list_query!($(#[$meta])* $name {
            $($(#[$fmeta])* $field: $ty,)*
            /// An RFC 3339 time or Unix seconds.
            #[serde(rename = "created[gte]")]
            #[param(schema_with = $crate::api::created_schema)]
            created_gte: Option<String>,
            /// An RFC 3339 time or Unix seconds.
            #[serde(rename = "created[lte]")]
            #[param(schema_with = $crate::api::created_schema)]
            created_lte: Option<String>,
        });

        impl $name {
            pub fn created(&self) -> Result<paylink_store::Created, $crate::error::ApiError> {
                $crate::api::created(&self.created_gte, &self.created_lte)
            }
        }
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize, Default, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// 1–100, default 10
            #[param(minimum = 1, maximum = 100)]
            pub limit: Option<u32>,
            /// An object id: the page starts after it.
            pub starting_after: Option<String>,
            /// An object id: the page ends before it.
            pub ending_before: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            pub fn page(&self) -> Result<paylink_store::Page, $crate::error::ApiError> {
                $crate::api::page(self.limit, &self.starting_after, &self.ending_before)
            }
        }
    };
}

pub fn page(
    limit: Option<u32>,
    after: &Option<String>,
    before: &Option<String>,
) -> ApiResult<Page> {
    let limit = limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "limit",
            "`limit` must be between 1 and 100",
        ));
    }
    if after.is_some() && before.is_some() {
        return Err(ApiError::invalid(
            "parameters_exclusive",
            "ending_before",
            "Use `starting_after` or `ending_before`, not both",
        ));
    }
    Ok(Page {
        limit,
        starting_after: after.clone(),
        ending_before: before.clone(),
    })
}

/// The schema of `created[gte]` / `created[lte]`: an RFC 3339 time or Unix seconds.
pub fn created_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(UNIX_SECONDS)),
        )
        .build();
    utoipa::openapi::schema::Schema::OneOf(one_of)
}

/// Unix seconds as a filter takes them: an optional minus and 1–18 digits.
const UNIX_SECONDS: &str = "^-?[0-9]{1,18}$";

/// Parses `created[gte]` / `created[lte]`: any RFC 3339 time (a filter may name times
/// before 1970 or after 9999, unlike stored ones) or Unix seconds.
pub fn created(gte: &Option<String>, lte: &Option<String>) -> ApiResult<Created> {
    let parse = |v: &Option<String>, param: &str| {
        v.as_deref()
            .map(|s| {
                let rfc3339 = || {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .ok()
                        .map(|t| Timestamp::from_unix(t.unix_timestamp()))
                };
                let digits = s.strip_prefix('-').unwrap_or(s);
                let unix = || {
                    ((1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| s.parse::<i64>().ok().map(Timestamp::from_unix))
                        .flatten()
                };
                rfc3339().or_else(unix).ok_or_else(|| {
                    ApiError::invalid(
                        "parameter_invalid",
                        param,
                        format!("`{param}` must be an RFC 3339 time or Unix seconds"),
                    )
                })
            })
            .transpose()
    };
    Ok(Created {
        gte: parse(gte, "created[gte]")?,
        lte: parse(lte, "created[lte]")?,
    })
}

/// The list envelope.
#[derive(Serialize, utoipa::ToSchema)]
pub struct List<T> {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    pub url: String,
}

impl<T> List<T> {
    pub fn new(l: Listed<T>, url: &str) -> Self {
        Self {
            object: "list",
            data: l.data,
            has_more: l.has_more,
            url: url.to_owned(),
        }
    }
}

/// `{"id", "object", "deleted": true}`
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: String,
    pub object: &'static str,
    pub deleted: bool,
}

impl Deleted {
    pub fn new(id: impl ToString, object: &'static str) -> Self {
        Self {
            id: id.to_string(),
            object,
            deleted: true,
        }
    }
}

pub async fn merchant(state: &AppState, t: &Tenant) -> ApiResult<Merchant> {
    Ok(state.store.get_merchant(t.merchant_id()).await?)
}

/// The merchant's settings for defaults and checks (kept briefly: see
/// [`AppState::public_settings`]).
pub async fn settings(
    state: &AppState,
    t: &Tenant,
) -> ApiResult<paylink_domain::settings::MerchantSettings> {
    Ok(state.public_settings(t.merchant_id()).await?)
}

/// Maps "not found" from the store to a 404 naming the kind of object.
pub fn not_found_as(what: &'static str) -> impl Fn(paylink_store::StoreError) -> ApiError {
    move |e| match e {
        paylink_store::StoreError::NotFound => ApiError::not_found(what),
        e => e.into(),
    }
}
