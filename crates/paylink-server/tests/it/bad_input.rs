//! The bad-input corpus (issue 20): every operation of the served OpenAPI document, called
//! with a valid credential and real ids, meets hostile input built from its own schema —
//! bodies over the limit, JSON nested 10,000 deep, bytes that are not UTF-8, NUL, SQL and
//! LIKE metacharacters in every query filter and string field, extreme amounts, unknown
//! currencies, 100 KB strings, wrong JSON types in every field, and ids of the wrong kind or
//! of another merchant. Each answer must be the contract's JSON error object (or, where the
//! input is a value the document allows, a success that keeps it as sent), within a bounded
//! time; and a refused request changes nothing any read of the API shows.
//!
//! The cases come from the document (`cases.rs`, reading schemas with `schema.rs`), so a
//! new route is covered as soon as it is in the table; a new request schema needs a valid
//! body and a new kind of id a fixture, in `world.rs` (the test says which).

mod cases;
mod schema;
mod world;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use cases::{Case, Ctx, Expect, Op};
use world::{base, world, World};

mod corpus {
    use paylink_store_sql::testing::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::corpus(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::corpus(Backend::Postgres).await;
    }
}

/// No answer within this is a hang.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The operations of the served document.
fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let id_prefix = params
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == "id")
                .and_then(|p| p["schema"]["pattern"].as_str())
                .and_then(|p| {
                    p.strip_prefix('^')?
                        .split_once('[')
                        .map(|(pre, _)| pre.to_owned())
                });
            let success = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(code, _)| code.starts_with('2'))
                .unwrap()
                .1;
            ops.push(Op {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path: path.clone(),
                public: op["security"].as_array().is_some_and(|s| s.is_empty()),
                // A 204 documents no content.
                image: success["content"]
                    .as_object()
                    .is_some_and(|c| c.keys().any(|k| k.starts_with("image/"))),
                query: params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| (p["name"].as_str().unwrap().to_owned(), p["schema"].clone()))
                    .collect(),
                body: op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| r.rsplit('/').next().unwrap().to_owned()),
                id_prefix,
            });
        }
    }
    ops
}

/// The operation's path with `w`'s objects, and the real value in it.
fn fill(op: &Op, w: &World) -> (String, Option<String>) {
    if op.path.contains("{slug}") {
        return (op.path.replace("{slug}", &w.slug), Some(w.slug.clone()));
    }
    match &op.id_prefix {
        Some(prefix) => {
            let id = w.ids.get(prefix).unwrap_or_else(|| {
                panic!(
                    "{}: no fixture for {prefix} ids: add one to bad_input/world.rs",
                    op.name()
                )
            });
            (op.path.replace("{id}", id), Some(id.clone()))
        }
        None => (op.path.clone(), None),
    }
}

struct Answer {
    status: u16,
    content_type: String,
    body: Value,
    /// Whether it says `Connection: close`.
    closes: bool,
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
    op: &Op,
    key: &str,
    c: &Case,
) -> Result<Answer, String> {
    let mut req = client.request(op.method.clone(), format!("{}{}", app.base, c.target));
    if !op.public {
        req = req.bearer_auth(key);
    }
    if let Some(k) = &c.idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = &c.body {
        req = req
            .header("content-type", "application/json")
            .body(b.clone());
    }
    let res = req
        .send()
        .await
        .map_err(|e| format!("no answer: {}", e.without_url()))?;
    let status = res.status().as_u16();
    let closes = res
        .headers()
        .get("connection")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let raw = res
        .bytes()
        .await
        .map_err(|e| format!("answer cut short: {}", e.without_url()))?;
    let body = serde_json::from_slice(&raw).unwrap_or_else(|_| {
        Value::String(String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned())
    });
    Ok(Answer {
        status,
        content_type,
        body,
        closes,
    })
}

const ERROR_TYPES: [&str; 10] = [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found",
    "conflict",
    "gone",
    "rate_limit_error",
    "idempotency_error",
    "processor_error",
    "api_error",
];

/// Whether the answer is one the case allows.
fn judge(op: &Op, c: &Case, a: &Answer) -> Result<(), String> {
    let json = a.content_type.starts_with("application/json");
    if (400..500).contains(&a.status) {
        let e = &a.body["error"];
        let shaped = json
            && e["code"].as_str().is_some_and(|s| !s.is_empty())
            && e["type"].as_str().is_some_and(|t| ERROR_TYPES.contains(&t))
            && e["message"].as_str().is_some_and(|s| !s.is_empty())
            && e.as_object().is_some_and(|o| o.contains_key("param"))
            && (e["param"].is_null() || e["param"].is_string());
        if !shaped {
            return Err(format!(
                "{} {}: not the error object: {}",
                a.status, a.content_type, a.body
            ));
        }
        // A body too large is not read to its end, so its connection ends with the answer.
        if a.status == 413 && !a.closes {
            return Err("413 without `Connection: close`".into());
        }
        // A broken field is refused as that field (or something inside it).
        if let (Some(field), Some(param), 400) = (&c.field, e["param"].as_str(), a.status) {
            if !param.starts_with(field.as_str()) {
                return Err(format!(
                    "refused for `{param}`, not the broken field: {}",
                    a.body
                ));
            }
        }
        return Ok(());
    }
    if !(200..300).contains(&a.status) {
        return Err(format!("{} {}: {}", a.status, a.content_type, a.body));
    }
    if !json && !op.image && a.status != 204 {
        return Err(format!("{} answered as {}", a.status, a.content_type));
    }
    let shown = || cases::shorten(&a.body.to_string());
    match &c.expect {
        Expect::Refused => Err(format!("accepted ({}): {}", a.status, shown())),
        Expect::RefusedOrNothingFound
            if a.body["object"] == "list" && a.body["data"] == json!([]) =>
        {
            Ok(())
        }
        Expect::RefusedOrNothingFound => {
            Err(format!("found something ({}): {}", a.status, shown()))
        }
        Expect::RefusedOrKept { at, sent } => match schema::get(&a.body, at) {
            Some(v) if v != sent => Err(format!(
                "kept {} for {}",
                cases::shorten(&v.to_string()),
                cases::shorten(&sent.to_string())
            )),
            _ => Ok(()),
        },
        Expect::NoServerError => Ok(()),
    }
}

/// Sends the case and judges its answer: the failure, if any, in a line.
async fn check(
    client: &reqwest::Client,
    app: &TestApp,
    op: &Op,
    key: &str,
    c: &Case,
) -> Result<Answer, String> {
    let judged = match send(client, app, op, key, c).await {
        Ok(answer) => judge(op, c, &answer).map(|()| answer),
        Err(e) => Err(e),
    };
    judged.map_err(|e| {
        let line = format!("{} — {}: {e}", op.name(), c.what);
        match line.char_indices().nth(400) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line,
        }
    })
}

/// What every read of the API shows both merchants.
async fn snapshot(
    app: &TestApp,
    client: &reqwest::Client,
    ops: &[Op],
    a: &World,
    b: &World,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for op in ops
        .iter()
        .filter(|o| o.method == Method::GET && !o.public && !o.image)
    {
        for w in [a, b] {
            let (mut path, _) = fill(op, w);
            if op.query.iter().any(|(n, _)| n == "limit") {
                path.push_str("?limit=100");
            }
            let r = client
                .get(format!("{}{path}", app.base))
                .bearer_auth(&w.key)
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap();
            out.push((format!("{} {path}", w.key.get(..12).unwrap_or("")), v));
        }
    }
    out
}

async fn corpus(backend: paylink_store_sql::testing::Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_second = 1_000_000;
        c.rate_limit_burst = 1_000_000;
    })
    .await;
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let doc = app.get("/v1/openapi.json").await.ok(200).clone();
    let ops = operations(&doc);
    // Every route of the table is an operation of the document, and each one meets the corpus.
    let routes = paylink_server::api::routes::table().len()
        + paylink_server::api::routes::public_table().len();
    assert!(routes > 0);
    assert_eq!(ops.len(), routes, "the served document lists every route");
    assert!(ops.iter().any(|o| o.public) && ops.iter().any(|o| o.body.is_some()));

    let other_key = app.other_merchant("Intruder").await;
    let a = world(&app, &app.key, "corpus@example.com").await;
    let b = world(&app, &other_key, "intruder@example.com").await;
    let other = |prefix: &str| b.ids.get(prefix).cloned();

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut later: Vec<(usize, Case)> = Vec::new();
    let mut before = snapshot(&app, &client, &ops, &a, &b).await;
    assert_eq!(
        before,
        snapshot(&app, &client, &ops, &a, &b).await,
        "the snapshot is stable"
    );
    let mut total = 0;
    for (i, op) in ops.iter().enumerate() {
        let (target, path_value) = fill(op, &a);
        let cx = Ctx {
            doc: &doc,
            target,
            base: op.body.as_deref().map_or(json!({}), |s| base(s, &a)),
            other: &other,
            path_value,
        };
        let all = cases::cases(op, &cx);
        total += all.len();
        let mut sent = 0;
        let mut twins = std::collections::HashMap::new();
        for c in all {
            if !c.expect.changes_nothing(&op.method) {
                later.push((i, c));
                continue;
            }
            match (check(&client, &app, op, &a.key, &c).await, &c.twin) {
                (Ok(answer), Some(key)) => match twins.get(key) {
                    Some(first) if *first != answer.body => failures.push(format!(
                        "{} — {}: {} where its twin got {first}",
                        op.name(),
                        c.what,
                        answer.body
                    )),
                    Some(_) => {}
                    None => drop(twins.insert(key.clone(), answer.body)),
                },
                (Ok(_), None) => {}
                (Err(e), _) => failures.push(e),
            }
            sent += 1;
        }
        // What the refusals of this operation changed, if anything.
        let after = snapshot(&app, &client, &ops, &a, &b).await;
        if after != before {
            let changed: Vec<&String> = after
                .iter()
                .zip(&before)
                .filter(|(x, y)| x != y)
                .map(|(x, _)| &x.0)
                .collect();
            failures.push(format!(
                "{}: one of {sent} refusals changed {changed:?}",
                op.name()
            ));
            before = after;
        }
    }
    // Values the document allows: a success keeps them as sent.
    let mut kept = 0;
    for (i, c) in &later {
        match check(&client, &app, &ops[*i], &a.key, c).await {
            Ok(answer) => kept += usize::from(answer.status < 300),
            Err(e) => failures.push(e),
        }
    }
    // Each valid body is valid, so each case above broke one thing in something whole.
    for op in ops.iter().filter(|o| o.body.is_some()) {
        let (target, _) = fill(op, &a);
        let body = serde_json::to_vec(&base(op.body.as_deref().unwrap(), &a)).unwrap();
        let c = Case::new(
            target,
            "the valid body".into(),
            Some(body),
            Expect::NoServerError,
        );
        let answer = send(&client, &app, op, &a.key, &c).await.unwrap();
        if matches!(answer.status, 400 | 422 | 500..) {
            failures.push(format!(
                "{}: the valid body is refused: {}",
                op.name(),
                answer.body
            ));
        }
    }
    failures.extend(past_the_uri_limit(&app, &a).await);
    eprintln!(
        "bad_input: {total} cases over {} operations in {:.1} s, {kept} of them documented values kept",
        ops.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The server is still whole.
    app.get("/v1/payments").await.ok(200);
}

/// 100 KB in a path segment and in a query value, which no client library sends (`http`
/// stops at 64 KiB): the HTTP layer answers, with the error object all the same.
async fn past_the_uri_limit(app: &TestApp, a: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let long = cases::long();
    for target in [
        format!("/v1/payment_links/{long}"),
        format!("/v1/payment_links?q={long}"),
    ] {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            a.key
        );
        // `raw_http` waits 5 s at most: no answer is status 0.
        let (status, headers, body) = crate::edge::raw_http(app, request.as_bytes()).await;
        let error: Value = serde_json::from_slice(&body).unwrap_or_default();
        let json = headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/json"));
        let what = format!("GET {}", cases::shorten(&target));
        if !(400..500).contains(&status) || !json || !error["error"]["code"].is_string() {
            failures.push(format!(
                "{what}: {status} {headers:?} {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    failures
}
