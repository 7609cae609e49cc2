//! The OpenAPI document is a contract: snapshot it, and check it covers every route.

use crate::both;
use crate::helpers::TestApp;

#[test]
fn openapi_document_snapshot() {
    let doc: serde_json::Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
}

#[test]
fn error_body_snapshot() {
    let e = paylink_server::error::ApiError::invalid(
        "slug_invalid",
        "slug",
        "`slug` must be 3–64 characters",
    );
    let body = serde_json::json!({"error": {"type": e.kind, "code": e.code, "message": e.message, "param": e.param}});
    insta::assert_json_snapshot!("error_body", body);
}

both!(served_document_lists_every_route);

async fn served_document_lists_every_route(app: TestApp) {
    let r = app
        .client
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    for route in paylink_server::api::routes::table()
        .into_iter()
        .chain(paylink_server::api::routes::public_table())
    {
        let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is not documented",
            route.method,
            route.path
        );
    }
    assert!(doc["components"]["schemas"]["PaymentLink"].is_object());
    assert!(doc["components"]["schemas"]["PaymentLinkIn"]["properties"]["title"].is_object());
}
