//! The OpenAPI 3.1 document, built from the route table and the types' schemas.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

use crate::api::route_docs::openapi_paths;
use crate::api::routes::Schemas;

pub fn document() -> OpenApi {
    let mut schemas: Schemas = Vec::new();
    let paths = openapi_paths(&mut schemas);
    // Deterministic order, so the snapshot only changes when the contract does.
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A secret (`sk_test_…`) or restricted (`rk_test_…`) key",
                    ))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Paylink API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Self-hosted payment links: the merchant API. Amounts are integers in the currency's minor unit."))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .security(Some(vec![SecurityRequirement::new("api_key", Vec::<String>::new())]))
        .build()
}

pub fn json() -> String {
    document()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}
