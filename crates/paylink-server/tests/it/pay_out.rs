//! The public pay endpoint's answers against the OpenAPI document's `PayOut`: every outcome
//! the simulated processor can give, checked field by field, so the schema and the bodies
//! cannot drift apart unnoticed.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

both!(pay_answers_are_the_documented_pay_out);

async fn pay_answers_are_the_documented_pay_out(app: TestApp) {
    let doc: Value = serde_json::from_str(&paylink_server::openapi::json()).unwrap();
    let pay = &doc["paths"]["/api/public/checkout_sessions/{id}/pay"]["post"];
    assert_eq!(
        pay["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PayOut"
    );
    let schema = &doc["components"]["schemas"]["PayOut"];
    let link = app.custom_link("Pay out", 1500).await;
    let slug = link["slug"].as_str().unwrap();
    let mut seen = BTreeSet::new();
    let mut check = |card: &str, status: u16, body: &Value, outcome: &str| {
        let mut errors = Vec::new();
        conforms(&doc, schema, body, "PayOut", &mut errors);
        assert!(errors.is_empty(), "{card}: {body}\n{}", errors.join("\n"));
        assert_eq!(body["status"], outcome, "{card}: {body}");
        let want = if outcome == "failed" { 402 } else { 200 };
        assert_eq!(status, want, "{card}: {body}");
        seen.extend(body.as_object().unwrap().keys().cloned());
    };
    for (card, outcome) in [
        ("4242424242424242", "succeeded"),
        ("4000000000003220", "requires_action"),
        ("4000000000000002", "failed"),
        ("4000000000009995", "failed"),
        ("4000000000000119", "failed"),
    ] {
        let session = app
            .start_checkout(slug, json!({"email": "payer@example.com"}))
            .await;
        let session = session.ok(201).clone();
        let r = app.pay_card(&session, card).await;
        check(card, r.status.as_u16(), &r.body, outcome);
        match outcome {
            "succeeded" => {
                for field in ["payment_id", "receipt_url", "redirect_url"] {
                    assert!(r.body[field].is_string(), "{card}: {}", r.body);
                }
                // A completed session answers its first result again, from storage.
                let again = app.pay_card(&session, card).await;
                check(card, again.status.as_u16(), &again.body, outcome);
                assert_eq!(again.body, r.body);
            }
            "requires_action" => {
                assert_eq!(r.body["next_action"]["type"], "redirect", "{}", r.body);
            }
            _ => {
                assert_eq!(
                    r.body["decline_code"], r.body["error"]["code"],
                    "{}",
                    r.body
                );
            }
        }
    }
    // Every field the document names is one some answer carries.
    let documented: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(seen, documented);
}

/// Collects where `value` departs from `schema` (the subset of JSON Schema the document
/// uses); a keyword this checker does not know fails, so nothing is skipped silently.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let s = schema.as_object().unwrap();
    for key in s.keys() {
        let known = [
            "$ref",
            "type",
            "enum",
            "pattern",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "oneOf",
            "description",
            "example",
            "format",
            "minimum",
            "maximum",
        ];
        assert!(known.contains(&key.as_str()), "{at}: keyword {key}");
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: {r} is not in the document");
        return conforms(doc, target, value, at, errors);
    }
    if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
        let passing = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                conforms(doc, b, value, at, &mut e);
                e.is_empty()
            })
            .count();
        if passing != 1 {
            errors.push(format!("{at}: {value} matches {passing} of oneOf"));
        }
    }
    if let Some(types) = s.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("{at}: type {other}"),
        };
        let is = |t: &str| match t {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            other => panic!("{at}: type {other}"),
        };
        if !types.iter().any(|t| is(t)) {
            errors.push(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            errors.push(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (s.get("pattern").and_then(Value::as_str), value.as_str())
    {
        // The document's one kind of pattern: an id, `^prefix[0-9A-Za-z]{N}$`.
        let (prefix, n) = pattern
            .strip_prefix('^')
            .and_then(|p| p.split_once("[0-9A-Za-z]{"))
            .and_then(|(prefix, rest)| {
                Some((prefix, rest.strip_suffix("}$")?.parse::<usize>().ok()?))
            })
            .unwrap_or_else(|| panic!("{at}: pattern {pattern}"));
        let ok = text.strip_prefix(prefix).is_some_and(|rest: &str| {
            rest.len() == n && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !ok {
            errors.push(format!("{at}: {text} does not match {pattern}"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = s.get("properties").and_then(Value::as_object);
        if let Some(properties) = properties {
            for (key, v) in object {
                match properties.get(key) {
                    Some(p) => conforms(doc, p, v, &format!("{at}.{key}"), errors),
                    None => errors.push(format!("{at}: `{key}` is not in the schema")),
                }
            }
        }
        for required in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = required.as_str().unwrap();
            if !object.contains_key(key) {
                errors.push(format!("{at}: required `{key}` is missing"));
            }
        }
    }
    if let (Some(items), Some(array)) = (s.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}
