//! The OpenAPI paths of the route table: each route's operation, its parameters with the
//! schemas the server enforces, and its answers.

use axum::http::Method;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{ContentBuilder, Required, ResponseBuilder};

use super::routes::{public_table, reg, table, Route, Schemas};
use crate::auth::Access::{Person, Public, Scope};
use crate::error::ErrorBody;

/// The id prefix of each collection a path names (`/v1/products/{id}` takes `prod_…`).
const ID_PREFIXES: [(&str, &str); 15] = [
    ("sessions", paylink_domain::id::SessionId::PREFIX),
    ("invitations", paylink_domain::id::InvitationId::PREFIX),
    ("members", paylink_domain::id::UserId::PREFIX),
    ("audit_log", paylink_domain::id::AuditEntryId::PREFIX),
    ("api_keys", paylink_domain::id::ApiKeyId::PREFIX),
    (
        "checkout_sessions",
        paylink_domain::id::CheckoutSessionId::PREFIX,
    ),
    ("customers", paylink_domain::id::CustomerId::PREFIX),
    ("events", paylink_domain::id::EventId::PREFIX),
    ("orders", paylink_domain::id::OrderId::PREFIX),
    ("payment_links", paylink_domain::id::PaymentLinkId::PREFIX),
    ("payments", paylink_domain::id::PaymentId::PREFIX),
    ("products", paylink_domain::id::ProductId::PREFIX),
    ("subscriptions", paylink_domain::id::SubscriptionId::PREFIX),
    ("tax_rates", paylink_domain::id::TaxRateId::PREFIX),
    (
        "webhook_endpoints",
        paylink_domain::id::WebhookEndpointId::PREFIX,
    ),
];

/// A string of `min..=max` characters, matching `pattern` if given.
fn text(min: usize, max: usize, pattern: Option<String>) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(pattern)
        .build()
}

/// The schema of a path parameter: `{slug}` by the slug rule, `{id}` by the id rule of the
/// collection before it (what the server accepts; anything else is a 404).
fn path_schema(path: &str, name: &str) -> utoipa::openapi::schema::Object {
    if name == "slug" {
        return text(3, 64, Some("^[a-z0-9]+(-[a-z0-9]+)*$".to_owned()));
    }
    if name == "token" {
        // An invitation's or a reset's token (`accounts::tokens`).
        return text(
            44,
            44,
            Some(crate::accounts::tokens::TOKEN_PATTERN.to_owned()),
        );
    }
    let collection = path
        .split("/{id}")
        .next()
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or("");
    let prefix = ID_PREFIXES
        .iter()
        .find(|(c, _)| *c == collection)
        .map(|(_, p)| *p);
    match prefix {
        Some(p) => {
            let len = p.len() + paylink_domain::id::RANDOM_LEN;
            text(len, len, Some(paylink_domain::id::pattern(p)))
        }
        None => text(1, 255, None),
    }
}

/// Every error status `r` answers, with its codes: those every route of its kind answers
/// (the edge, authentication, idempotency, the body and path extractors, rate limits), then
/// the route's own ([`super::routes::Route::errors`]).
fn error_answers(r: &Route, is_public: bool) -> Vec<(u16, Vec<&'static str>)> {
    let mut out: std::collections::BTreeMap<u16, Vec<&'static str>> = Default::default();
    let mut add = |status: u16, codes: &[&'static str]| {
        let v = out.entry(status).or_default();
        for c in codes {
            if !v.contains(c) {
                v.push(c);
            }
        }
    };
    // The edge refuses NUL and undecodable bytes anywhere, and bad query strings.
    add(400, &["parameter_invalid", "invalid_request"]);
    if r.query.is_some() {
        add(422, &["invalid_cursor", "parameters_exclusive"]);
    }
    if r.body.is_some() {
        add(
            400,
            &[
                "invalid_json",
                "parameter_missing",
                "parameter_unknown",
                "body_unreadable",
            ],
        );
        add(413, &["body_too_large"]);
        add(415, &["unsupported_media_type"]);
    }
    if !is_public {
        add(
            401,
            &["api_key_missing", "api_key_invalid", "session_invalid"],
        );
        if r.method != Method::GET {
            // A cookie session's unsafe request without its CSRF token.
            add(403, &["csrf_failed"]);
        }
    }
    if matches!(r.access, Scope(_) | Person) {
        add(403, &["insufficient_permissions"]);
    }
    if r.path.contains("{id}") || r.path.contains("{slug}") {
        add(404, &["resource_missing"]);
    }
    if r.method != Method::GET {
        add(409, &["idempotency_key_in_use"]);
        add(422, &["idempotency_key_reused"]);
    }
    add(429, &["rate_limit_exceeded"]);
    add(500, &["internal_error"]);
    // A route names its refusals of requests as 400s; those the document allows the shape
    // of are answered 422 (`crate::error::UNPROCESSABLE`, one list for both).
    for (status, codes) in &r.errors {
        for code in *codes {
            match *status {
                400 => add(crate::error::invalid_status(code).as_u16(), &[code]),
                s => add(s, &[code]),
            }
        }
    }
    out.into_iter().collect()
}

fn describe(status: u16, codes: &[&str]) -> String {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    format!("{reason}: {}", codes.join(", "))
}

/// The OpenAPI paths and schemas of the table.
pub fn openapi_paths(components: &mut Schemas) -> utoipa::openapi::Paths {
    let mut paths = utoipa::openapi::Paths::new();
    let public: Vec<&str> = public_table().iter().map(|r| r.path).collect();
    for r in table().into_iter().chain(public_table()) {
        let is_public = public.contains(&r.path);
        let method = match r.method {
            Method::POST => HttpMethod::Post,
            Method::PATCH => HttpMethod::Patch,
            Method::PUT => HttpMethod::Put,
            Method::DELETE => HttpMethod::Delete,
            _ => HttpMethod::Get,
        };
        let json = |schema| ContentBuilder::new().schema(Some(schema)).build();
        let error = reg::<ErrorBody>(components);
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .tag(r.tag)
            .operation_id(Some(format!(
                "{}_{}",
                r.method.as_str().to_lowercase(),
                r.path
                    .trim_start_matches("/v1/")
                    .replace(['/', '{', '}'], "_")
                    .trim_end_matches('_')
            )))
            .response(
                r.status.to_string(),
                if r.status == 204 {
                    // No Content: an answer without a body (`POST /auth/logout`).
                    ResponseBuilder::new().description("Success (no body)")
                } else {
                    ResponseBuilder::new()
                        .description("Success")
                        .content(r.content_type, json((r.response)(components)))
                },
            );
        for (status, description, schema) in &r.answers {
            op = op.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(*description)
                    .content("application/json", json(schema(components))),
            );
        }
        for (status, codes) in error_answers(&r, is_public) {
            op = op.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(describe(status, &codes))
                    .content("application/json", json(error.clone())),
            );
        }
        match r.access {
            Scope(scope) => op = op.description(Some(format!("Requires the `{scope}` scope."))),
            Person => {
                op = op.description(Some(
                    "Requires a signed-in person (`Authorization: Token …`).",
                ))
            }
            Public => {}
        }
        if let Some(body) = r.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json(body(components)))
                    .required(Some(if r.body_optional {
                        Required::False
                    } else {
                        Required::True
                    }))
                    .build(),
            ));
        }
        for name in ["id", "slug", "token"] {
            if r.path.contains(&format!("{{{name}}}")) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(path_schema(r.path, name))),
                );
            }
        }
        if is_public {
            // No API key: the customer's browser calls these.
            op = op.securities(Some(
                Vec::<utoipa::openapi::security::SecurityRequirement>::new(),
            ));
        }

        if r.method != Method::GET {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .schema(Some(text(1, 255, None)))
                    .description(Some("1–255 characters; a retry with the same key and body replays the first answer")),
            );
        }
        if let Some(q) = r.query {
            for p in q() {
                op = op.parameter(p);
            }
        }
        paths.add_path_operation(r.path, vec![method], op.build());
    }
    paths
}
