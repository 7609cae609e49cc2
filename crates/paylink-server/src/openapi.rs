//! The OpenAPI 3.1 document, built from the route table and the types' schemas.

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
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
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A person's session: `Authorization: Token <access_token>` from `POST /auth/login` \
                 (or the dashboard's `paylink_session` cookie, whose unsafe requests also send \
                 `X-CSRF-Token`). Acts with the member's role, in test mode unless \
                 `Paylink-Mode: live` is sent.",
            ))),
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
        .security(Some(vec![
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]))
        .build()
}

pub fn json() -> String {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    let inputs = request_components(&doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    {
        for (name, schema) in schemas.iter_mut() {
            everywhere(schema, Some(name), inputs.contains(name));
        }
    }
    if let Some(paths) = doc.get_mut("paths") {
        everywhere(paths, None, true);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
}

/// The components a request may hold: those its body names, and theirs in turn.
fn request_components(doc: &serde_json::Value) -> std::collections::BTreeSet<String> {
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(|r| r.as_str()) {
                    out.extend(r.strip_prefix("#/components/schemas/").map(str::to_owned));
                }
                o.values().for_each(|c| refs(c, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    let paths = doc.get("paths").and_then(|p| p.as_object());
    for op in paths.into_iter().flat_map(|p| p.values()) {
        for method in op.as_object().into_iter().flat_map(|m| m.values()) {
            if let Some(body) = method.get("requestBody") {
                refs(body, &mut todo);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        let pointer = format!("/components/schemas/{name}");
        if seen.insert(name) {
            if let Some(schema) = doc.pointer(&pointer) {
                refs(schema, &mut todo);
            }
        }
    }
    seen
}

/// Rules the server applies to every request, written into every schema they concern:
/// - no text sent holds a NUL character (the edge refuses it in any field, path or query):
///   on the types request bodies hold and on parameters;
/// - `metadata` is string pairs, keys of 1–40 characters, values of at most 500;
/// - `currency_options` are keyed by supported currency codes in upper case.
fn everywhere(v: &mut serde_json::Value, name: Option<&str>, input: bool) {
    use serde_json::{json, Value};
    let Value::Object(o) = v else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(|i| everywhere(i, None, input));
        }
        return;
    };
    let is_string = o.get("type").is_some_and(|t| {
        t == "string"
            || t.as_array()
                .is_some_and(|a| a.iter().any(|t| t == "string"))
    });
    let free = !["pattern", "enum", "format", "$ref"]
        .iter()
        .any(|k| o.contains_key(*k));
    if input && is_string && free {
        o.insert("pattern".into(), json!("^[^\\u0000]*$"));
    }
    if matches!(name, Some("metadata" | "Metadata")) && o.get("additionalProperties").is_some() {
        o.insert(
            "propertyNames".into(),
            json!({"minLength": 1, "maxLength": 40, "pattern": "^[^\\u0000]*$"}),
        );
        o.insert(
            "additionalProperties".into(),
            json!({"type": "string", "maxLength": 500}),
        );
    }
    if name == Some("currency_options") && o.get("additionalProperties").is_some() {
        o.insert(
            "propertyNames".into(),
            json!({"pattern": paylink_domain::money::Currency::upper_case_pattern()}),
        );
    }
    // Answers live under `responses`: leave them as they are.
    for (k, child) in o.iter_mut() {
        match k.as_str() {
            "responses" => {}
            "properties" => {
                if let Value::Object(props) = child {
                    for (pname, p) in props.iter_mut() {
                        everywhere(p, Some(pname), input);
                    }
                }
            }
            _ => everywhere(child, None, input),
        }
    }
}
