//! Path ids: every `{id}` route of the OpenAPI document answers a segment that is not an id
//! of its kind as it answers an unknown id, the JSON `404 resource_missing`; bytes the edge
//! refuses for every route (NUL, not UTF-8) stay its `400 parameter_invalid`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Resp, TestApp};

both!(malformed_path_ids_are_not_found);

/// Each `{id}` operation of the document: method, path, the id prefix its pattern takes,
/// and whether it is public (called without a key).
fn id_routes() -> Vec<(Method, String, String, bool)> {
    let doc: Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("{id}") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let param = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == "id")
                .unwrap_or_else(|| panic!("{method} {path}: no id parameter"));
            let pattern = param["schema"]["pattern"].as_str().unwrap();
            let prefix = pattern
                .strip_prefix('^')
                .and_then(|p| p.split_once('['))
                .map(|(prefix, _)| prefix.to_owned())
                .unwrap_or_else(|| panic!("{method} {path}: pattern {pattern}"));
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            routes.push((method, path.clone(), prefix, public));
        }
    }
    routes
}

/// Calls the route, waiting out the per-key rate limit (this test makes a few hundred calls).
/// Routes of a person's own account (`/v1/me/…`) are called with `person`'s token.
async fn call(app: &TestApp, method: &Method, path: &str, public: bool, person: &str) -> Resp {
    let body = matches!(*method, Method::POST | Method::PATCH).then(|| json!({}));
    let key = (!public).then_some(app.key.as_str());
    loop {
        let r = if path.starts_with("/v1/me/") {
            crate::accounts::as_person(app, person, method.clone(), path, body.clone(), &[]).await
        } else {
            app.call(key, method.clone(), path, body.clone(), None)
                .await
        };
        if r.status != 429 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn malformed_path_ids_are_not_found(app: TestApp) {
    let person = crate::accounts::signed_in(
        &app,
        paylink_domain::access::Role::Viewer,
        "viewer@acme.example",
    )
    .await;
    let routes = id_routes();
    // The document lists every route of the table that takes an id, the public pay too.
    let table = paylink_server::api::routes::table()
        .into_iter()
        .chain(paylink_server::api::routes::public_table())
        .filter(|r| r.path.contains("{id}"))
        .count();
    assert_eq!(routes.len(), table);
    assert!(routes
        .iter()
        .any(|(m, p, _, public)| *m == Method::POST && p.ends_with("/pay") && *public));
    for (method, path, prefix, public) in &routes {
        let at = |id: &str| path.replace("{id}", id);
        // A well-formed id that names nothing.
        let unknown = format!("{prefix}{}", "0".repeat(22));
        let known = call(&app, method, &at(&unknown), *public, &person).await;
        let other = if prefix == "prod_" { "plink_" } else { "prod_" };
        for bad in [
            "nope".to_owned(),
            format!("{other}{}", "0".repeat(22)),
            format!("{prefix}{}", "0".repeat(21)),
            format!("{prefix}{}", "0".repeat(23)),
            format!("{prefix}{}%20", "0".repeat(21)),
            format!("{prefix}{}%C3%A9", "0".repeat(21)),
            format!("{}{}", prefix.to_uppercase(), "0".repeat(22)),
            "a".repeat(3000),
        ] {
            let r = call(&app, method, &at(&bad), *public, &person).await;
            let what = format!("{method} {}", at(&bad));
            r.assert_error(404, "resource_missing");
            assert_eq!(r.body["error"]["type"], "not_found", "{what}: {}", r.body);
            assert!(
                r.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{what}"
            );
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("No such "), "{what}: {message}");
            // Answered as the unknown id is, where the unknown one gets as far as its lookup
            // (a POST's `{}` may be refused first as an incomplete body).
            if known.status == 404 {
                assert_eq!(r.body, known.body, "{what} against {unknown}");
            }
        }
        // NUL and bytes that are not UTF-8: the edge refuses them on every route, before
        // any id is parsed.
        for bad in [
            format!("{prefix}%00"),
            "%FF".to_owned(),
            format!("{prefix}%ff%fe"),
        ] {
            let r = call(&app, method, &at(&bad), *public, &person).await;
            r.assert_error(400, "parameter_invalid")
                .assert_param("path");
        }
    }
}
