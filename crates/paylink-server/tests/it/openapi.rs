//! The OpenAPI document is a contract: snapshot it, and check it covers every route.

use crate::both;
use crate::helpers::TestApp;

#[test]
fn openapi_document_snapshot() {
    let doc: serde_json::Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
}

/// Patterns are written beside the fields they check, so each must be one the domain
/// checks by (`paylink_domain::text`'s and the others here): a literal that drifted from
/// its check, or a new one nobody checked, fails here.
#[test]
fn every_pattern_is_one_the_server_checks_by() {
    use paylink_domain::{money::Currency, text, time::DurationSpec};
    fn patterns(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(p) = o.get("pattern").and_then(|p| p.as_str()) {
                    out.push(p.to_owned());
                }
                o.values().for_each(|c| patterns(c, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| patterns(c, out)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    let mut found = Vec::new();
    patterns(&doc, &mut found);
    let ids = regex::Regex::new(r"^\^[a-z]+_\[0-9A-Za-z\]\{22\}\$$").unwrap();
    let known = [
        text::TEXT_PATTERN.to_owned(),
        text::EMAIL_PATTERN.to_owned(),
        text::HTTPS_URL_PATTERN.to_owned(),
        text::PHONE_PATTERN.to_owned(),
        Currency::pattern(),
        Currency::upper_case_pattern(),
        DurationSpec::pattern(1, DurationSpec::MAX_SECONDS),
        DurationSpec::pattern(60, 86_400),
        paylink_domain::subscription::RetrySchedule::pattern(),
        "^[^\\u0000]*$".to_owned(),
        "^[a-z0-9]+(-[a-z0-9]+)*$".to_owned(),
        "^-?[0-9]{1,18}$".to_owned(),
        paylink_server::accounts::tokens::TOKEN_PATTERN.to_owned(),
    ];
    let unknown: std::collections::BTreeSet<_> = found
        .iter()
        .filter(|p| !known.contains(p) && !ids.is_match(p))
        .collect();
    // Rules of one field each, checked beside it (their tests name them).
    let single = [
        "^[A-Z]{2}$",
        "^#[0-9A-Fa-f]{6}$",
        "^[A-Za-z0-9_]*$",
        "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        "^[A-Za-z0-9-](?:[A-Za-z0-9.-]*[A-Za-z0-9-])?$",
        "^(?:0?[0-9]{1,2}(?:\\.[0-9]{1,4})?|100(?:\\.0{1,4})?)$",
        // The payments list's `customer`: no control character (dashboard_home's test).
        "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
        // Stripe's keys (`api/processors.rs::key`; stripe.rs sends short ones).
        "^[sr]k_(test|live)_[A-Za-z0-9_]{8,250}$",
        "^pk_(test|live)_[A-Za-z0-9_]{8,250}$",
        "^whsec_[A-Za-z0-9_]{8,250}$",
    ];
    let rest: Vec<_> = unknown
        .iter()
        .filter(|p| !single.contains(&p.as_str()) && !p.starts_with("^[Hh][Tt][Tt][Pp][Ss]?://"))
        .collect();
    assert!(
        rest.is_empty(),
        "patterns no check is known to use: {rest:#?}"
    );
}

both!(
    served_document_lists_every_route,
    path_parameters_say_what_the_server_accepts,
    served_error_body_snapshot
);

/// The error object exactly as the server sends it, for a payment link whose slug it
/// refuses: the whole body, the same on both backends (one snapshot for both).
async fn served_error_body_snapshot(app: TestApp) {
    let r = app
        .post(
            "/v1/payment_links",
            serde_json::json!({"title": "Error body", "amount": 500, "slug": "ab"}),
        )
        .await;
    assert_eq!(r.status, 400, "body: {}", r.body);
    assert_eq!(
        r.headers[reqwest::header::CONTENT_TYPE],
        "application/json",
        "body: {}",
        r.body
    );
    insta::assert_json_snapshot!("error_body", r.body);
}

/// Every `{id}` and `{slug}` has a schema a fuzzer can generate from (issue 20), and the
/// ids the API hands out match their route's pattern.
async fn path_parameters_say_what_the_server_accepts(app: TestApp) {
    let doc: serde_json::Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    let mut patterns = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let schema = &p["schema"];
                assert!(
                    schema.is_object(),
                    "{method} {path}: parameter {} has no schema",
                    p["name"]
                );
                if p["in"] == "path" {
                    let pattern = schema["pattern"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{method} {path}: {} has no pattern", p["name"]));
                    patterns.insert(path.clone(), regex_lite(pattern));
                }
            }
        }
    }
    let link = app.custom_link("Pattern", 500).await;
    let product = app.product("Mug", 900).await;
    for (path, value) in [
        ("/v1/payment_links/{id}", link["id"].as_str().unwrap()),
        ("/v1/products/{id}", product["id"].as_str().unwrap()),
    ] {
        let (prefix, len) = &patterns[path];
        assert!(
            value.starts_with(prefix.as_str()) && value.len() == *len,
            "{path}: {value} against {prefix}/{len}"
        );
    }
}

/// `^prefix[0-9A-Za-z]{N}$` as (prefix, total length); other patterns (slugs) as ("", 0).
fn regex_lite(pattern: &str) -> (String, usize) {
    match pattern
        .strip_prefix('^')
        .and_then(|p| p.split_once("[0-9A-Za-z]{"))
    {
        Some((prefix, rest)) => {
            let n: usize = rest.trim_end_matches("}$").parse().unwrap();
            (prefix.to_owned(), prefix.len() + n)
        }
        None => (String::new(), 0),
    }
}

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
    // Each status an operation answers is documented on its own, with its error codes, so
    // a fuzzer can tell a wrong status from a right one: no `4XX`/`5XX` ranges.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                statuses.iter().all(|s| s.parse::<u16>().is_ok()),
                "{method} {path}: {statuses:?}"
            );
            for s in ["400", "429", "500"] {
                assert!(statuses.contains(&&s.to_owned()), "{method} {path}: {s}");
            }
        }
    }
    let pay = &doc["paths"]["/api/public/checkout_sessions/{id}/pay"]["post"]["responses"];
    assert_eq!(
        pay["402"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PayOut"
    );
    let refunds = &doc["paths"]["/v1/payments/{id}/refunds"]["post"]["responses"];
    assert!(refunds["409"]["description"]
        .as_str()
        .unwrap()
        .contains("`payment_not_refundable`"));
    // What schemathesis's first run found undocumented: image answers, the redelivery's
    // answer, a customer created with no body.
    let paths = &doc["paths"];
    for (path, kind) in [
        ("/v1/payment_links/{id}/qr.png", "image/png"),
        ("/v1/payment_links/{id}/qr.svg", "image/svg+xml"),
    ] {
        assert!(
            paths[path]["get"]["responses"]["200"]["content"][kind].is_object(),
            "{path}"
        );
    }
    assert!(
        doc["components"]["schemas"]["Redelivered"]["properties"]["deliveries_queued"].is_object()
    );
    assert_eq!(
        paths["/v1/customers"]["post"]["requestBody"]["required"],
        false
    );
    let r = app
        .client
        .post(format!("{}/v1/customers", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a customer with nothing, as documented");
    assert!(doc["components"]["schemas"]["PaymentLinkIn"]["properties"]["title"].is_object());
}
