//! The edge: NUL characters and bytes that are not text are refused alike on both
//! backends, and every error answer is the contract's JSON object, even the HTTP layer's.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both;
use crate::helpers::TestApp;

both!(
    nul_is_refused_everywhere_before_the_database,
    framework_errors_are_json,
    http_layer_errors_are_json,
);

/// A raw HTTP/1.1 exchange: the status, the headers (lower-case) and the body.
pub async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.as_bytes().to_vec())
}

#[track_caller]
fn json_error(status: u16, headers: &[(String, String)], body: &[u8], want: u16) -> Value {
    assert_eq!(status, want, "{}", String::from_utf8_lossy(body));
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/json")),
        "{headers:?}"
    );
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!("not JSON: {:?}", String::from_utf8_lossy(body));
    });
    assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
    v
}

async fn nul_is_refused_everywhere_before_the_database(app: TestApp) {
    let link = app.custom_link("Plain", 100).await;
    let slug = link["slug"].as_str().unwrap().to_owned();
    let mut answers = Vec::new();
    // Public routes, no key.
    for (method, path) in [
        (Method::GET, "/l/a%00b".to_owned()),
        (Method::GET, "/api/public/links/a%00b".to_owned()),
        (Method::POST, "/api/public/links/a%00b/checkout".to_owned()),
        (Method::GET, "/r/pay_%00?t=x".to_owned()),
        (Method::GET, format!("/l/{slug}?error=%00")),
    ] {
        let r = app.call(None, method, &path, None, None).await;
        r.assert_error(400, "parameter_invalid");
        answers.push(r.body["error"]["param"].clone());
    }
    // Every list's filters and cursors.
    for path in [
        "/v1/payment_links?q=a%00",
        "/v1/payment_links?type=a%00",
        "/v1/payment_links?starting_after=plink_%00",
        "/v1/products?q=%00",
        "/v1/customers?email=a%00%40b.c",
        "/v1/tax_rates?ending_before=%00",
        "/v1/orders?reference_id=%00",
        "/v1/payments?starting_after=%00",
        "/v1/events?type=%00",
        "/v1/webhook_endpoints?starting_after=%00",
        "/v1/emails?starting_after=%00",
        "/v1/api_keys?starting_after=%00",
    ] {
        let r = app.get(path).await;
        r.assert_error(400, "parameter_invalid");
        assert!(r.body["error"]["param"].is_string(), "{path}: {}", r.body);
    }
    // JSON bodies, in values and in keys; an escaped backslash followed by `u0000` is text.
    for body in [
        json!({"url": "https://example.com/\u{0}hook", "enabled_events": ["*"]}),
        json!({"name": "Mu\u{0}g", "unit_amount": 100}),
    ] {
        let path = if body.get("url").is_some() {
            "/v1/webhook_endpoints"
        } else {
            "/v1/products"
        };
        app.post(path, body)
            .await
            .assert_error(400, "parameter_invalid")
            .assert_param("body");
    }
    let text = app
        .post(
            "/v1/products",
            json!({"name": "back\\u0000slash", "unit_amount": 100}),
        )
        .await;
    assert_eq!(text.ok(201)["name"], "back\\u0000slash");
    app.start_checkout(&slug, json!({"email": "a@b.c", "name": "x\u{0}"}))
        .await
        .assert_error(400, "parameter_invalid");
    // The hosted page's form.
    let r = app
        .client
        .post(format!("{}/l/{slug}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a%00%40b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "parameter_invalid");
    // Nothing was stored.
    let names: Vec<Value> = app.get("/v1/products?limit=100").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("back\\u0000slash")]);
    assert_eq!(
        app.get("/v1/webhook_endpoints").await.body["data"],
        json!([])
    );
    assert_eq!(answers[0], "path");
}

async fn framework_errors_are_json(app: TestApp) {
    let link = app.custom_link("Forms", 100).await;
    let slug = link["slug"].as_str().unwrap().to_owned();
    // Bytes that are not UTF-8 in a path segment.
    for path in [
        "/v1/payment_links/%ff%fe",
        "/l/%C3",
        "/api/public/links/%80",
    ] {
        let r = app
            .call(Some(&app.key), Method::GET, path, None, None)
            .await;
        r.assert_error(400, "parameter_invalid")
            .assert_param("path");
    }
    // A hosted page's form of the wrong kind, and one too large.
    let r = app
        .client
        .post(format!("{}/l/{slug}", app.base))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_media_type");
    let r = app
        .client
        .post(format!("{}/l/{slug}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}", "a".repeat(70 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "body_too_large");
    // A query that does not parse on a page route.
    let r = app
        .call(None, Method::GET, "/r/pay_x?t=a&t=b", None, None)
        .await;
    assert!(r.status.is_client_error());
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
            || r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
        "{:?}",
        r.headers
    );
}

async fn http_layer_errors_are_json(app: TestApp) {
    // Bytes that are not a request line.
    let (status, headers, body) =
        raw_http(&app, b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let v = json_error(status, &headers, &body, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (status, headers, body) = raw_http(
        &app,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    )
    .await;
    json_error(status, &headers, &body, 400);
    // Too many headers.
    let mut req = b"GET /v1/products HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let (status, headers, body) = raw_http(&app, &req).await;
    let v = json_error(status, &headers, &body, 431);
    assert_eq!(v["error"]["code"], "headers_too_large");
    // The server goes on serving.
    app.get("/v1/products").await.ok(200);
}
