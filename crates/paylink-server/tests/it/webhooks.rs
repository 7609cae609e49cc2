//! Webhooks end to end: a real receiver on 127.0.0.1 that checks every signature with its
//! own HMAC code (not the server's signer).

use paylink_store::prelude::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::both;
use crate::helpers::TestApp;

#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    signatures: String,
    pub(crate) body: String,
    at: Instant,
}

/// How the receiver answers the next requests (then 200).
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    RetryAfter(u16, u64),
    Slow(u64),
}

#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    pub(crate) url: String,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let mut r = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        r.url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let h = |k: &str| {
                        headers
                            .get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    state.got.lock().unwrap().push(Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signatures: h("webhook-signature"),
                        body,
                        at: Instant::now(),
                    });
                    let next = state.script.lock().unwrap().pop_front();
                    match next {
                        Some(Answer::Status(s)) => {
                            (StatusCode::from_u16(s).unwrap(), HeaderMap::new())
                        }
                        Some(Answer::RetryAfter(s, secs)) => {
                            let mut hm = HeaderMap::new();
                            hm.insert("retry-after", secs.to_string().parse().unwrap());
                            (StatusCode::from_u16(s).unwrap(), hm)
                        }
                        Some(Answer::Slow(ms)) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            (StatusCode::OK, HeaderMap::new())
                        }
                        None => (StatusCode::OK, HeaderMap::new()),
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    fn answer(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.received().len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} deliveries arrived",
                self.received().len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.received()
    }
}

/// An independent Standard Webhooks check: does any `v1,` signature match `secret`?
pub(crate) fn verifies(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.signatures
        .split(' ')
        .any(|s| s == format!("v1,{expected}"))
}

pub(crate) async fn endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let e = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    (
        e["id"].as_str().unwrap().to_owned(),
        e["secret"].as_str().unwrap().to_owned(),
    )
}

both!(
    endpoints_api_and_ssrf,
    events_arrive_signed_once_each,
    retries_follow_failures_and_retry_after,
    rotation_signs_with_both_secrets,
    failing_endpoints_are_disabled_and_events_redelivered
);

async fn endpoints_api_and_ssrf(app: TestApp) {
    let e = app.create("/v1/webhook_endpoints", json!({"url": "https://93.184.216.34/hooks", "enabled_events": ["payment.succeeded"], "description": "prod"})).await;
    let secret = e["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(&secret[6..])
            .unwrap()
            .len()
            >= 24
    );
    let id = e["id"].as_str().unwrap();
    assert!(id.starts_with("we_"));
    let got = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert!(
        got.ok(200).get("secret").is_none(),
        "the secret is shown once"
    );
    assert!(
        !String::from_utf8(app.get("/v1/webhook_endpoints").await.raw)
            .unwrap()
            .contains(secret)
    );
    for bad in [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://2130706433/",
        "http://localhost/",
    ] {
        app.post(
            "/v1/webhook_endpoints",
            json!({"url": bad, "enabled_events": ["*"]}),
        )
        .await
        .assert_error(422, "webhook_url_refused")
        .assert_param("url");
    }
    // A URL that is no http(s) URL is refused for its shape, which the document gives.
    for bad in ["ftp://x.com/", "https://user:pw@x.com/", "https://"] {
        app.post(
            "/v1/webhook_endpoints",
            json!({"url": bad, "enabled_events": ["*"]}),
        )
        .await
        .assert_error(400, "invalid_webhook_url")
        .assert_param("url");
    }
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "https://93.184.216.34/", "enabled_events": ["payment.exploded"]}),
    )
    .await
    .assert_error(400, "parameter_invalid")
    .assert_param("enabled_events[0]");
    let p = app
        .patch(
            &format!("/v1/webhook_endpoints/{id}"),
            json!({"status": "disabled", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(
        (
            p.ok(200)["status"].as_str(),
            p.body["enabled_events"][0].as_str()
        ),
        (Some("disabled"), Some("*"))
    );
    app.patch(
        &format!("/v1/webhook_endpoints/{id}"),
        json!({"url": "http://192.168.1.1/"}),
    )
    .await
    .assert_error(422, "webhook_url_refused");
    let other = app.other_merchant("Peeker").await;
    app.call(
        Some(&other),
        reqwest::Method::GET,
        &format!("/v1/webhook_endpoints/{id}"),
        None,
        None,
    )
    .await
    .assert_error(404, "resource_missing");
    let d = app.delete(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(d.ok(200)["deleted"], true);
    app.get(&format!("/v1/webhook_endpoints/{id}"))
        .await
        .assert_error(404, "resource_missing");
}

async fn events_arrive_signed_once_each(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(
        &app,
        &rx.url,
        json!(["payment_link.created", "payment.succeeded"]),
    )
    .await;
    app.start_worker(|_| {});
    let l = app.custom_link("Hooked", 1500).await;
    app.buy(l["slug"].as_str().unwrap())
        .await
        .1
        .unwrap()
        .ok(200);
    let got = rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = rx.received();
    assert_eq!(
        got_after.len(),
        2,
        "only the two subscribed events, once each: {got:?}"
    );
    for r in &got_after {
        assert!(verifies(&secret, r), "bad signature on {}", r.id);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["id"], r.id, "webhook-id is the event id");
        assert!(
            (r.timestamp.parse::<i64>().unwrap() - paylink_domain::time::Timestamp::now().unix())
                .abs()
                < 30
        );
    }
    let kinds: Vec<String> = got_after
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        kinds.contains(&"payment_link.created".to_owned())
            && kinds.contains(&"payment.succeeded".to_owned())
    );
    // A tampered body does not verify with our independent check.
    let mut forged = got_after[0].clone();
    forged.body.push(' ');
    assert!(!verifies(&secret, &forged));
}

async fn retries_follow_failures_and_retry_after(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let (id, secret) = endpoint(&app, &rx.url, json!(["*"])).await;
    rx.answer(&[
        Answer::Status(500),
        Answer::Slow(1500),
        Answer::RetryAfter(503, 1),
    ]);
    app.start_worker(|_| {});
    app.custom_link("Flaky receiver", 100).await;
    let got = rx.wait_for(4).await;
    // The same event, with the same webhook-id, every time; each signed afresh.
    assert!(got
        .iter()
        .all(|r| r.id == got[0].id && verifies(&secret, r)));
    // Retry-After: 1 held the fourth attempt back at least a second.
    assert!(
        got[3].at.duration_since(got[2].at) >= Duration::from_millis(900),
        "{:?}",
        got[3].at.duration_since(got[2].at)
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.received().len(), 4, "no delivery after the success");
    let log = app
        .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
        .await;
    let codes: Vec<Value> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), Value::Null, json!(503), json!(200)]);
    assert_eq!(log.body["data"][2]["error"], "timeout");
    // Attempts have no id a cursor could name: paging by cursor is refused, not ignored.
    let newest = app
        .get(&format!("/v1/webhook_endpoints/{id}/deliveries?limit=2"))
        .await;
    assert_eq!(
        (
            newest.ok(200)["data"].as_array().unwrap().len(),
            newest.body["has_more"].as_bool()
        ),
        (2, Some(true))
    );
    app.get(&format!(
        "/v1/webhook_endpoints/{id}/deliveries?starting_after={id}"
    ))
    .await
    .assert_error(400, "parameter_unknown");
}

async fn rotation_signs_with_both_secrets(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let (id, old) = endpoint(&app, &rx.url, json!(["payment_link.created"])).await;
    let rotated = app
        .post(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({"overlap_seconds": 3600}),
        )
        .await;
    let new = rotated.ok(200)["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.start_worker(|_| {});
    app.custom_link("Rotated", 100).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signatures.split(' ').count(), 2);
    assert!(verifies(&old, &got[0]) && verifies(&new, &got[0]));
    // Without an overlap, only the new secret signs.
    app.post(
        &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
        json!({"overlap_seconds": 0}),
    )
    .await
    .ok(200);
    let newest = app
        .post(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({"overlap_seconds": 0}),
        )
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.custom_link("Rotated again", 100).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].signatures.split(' ').count(), 1);
    assert!(verifies(&newest, &got[1]) && !verifies(&new, &got[1]));
}

async fn failing_endpoints_are_disabled_and_events_redelivered(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let (id, secret) = endpoint(&app, &rx.url, json!(["payment_link.created"])).await;
    rx.answer(&[
        Answer::Status(500),
        Answer::Status(500),
        Answer::Status(500),
        Answer::Status(500),
    ]);
    // Failing for 1 second is "too long" here (5 days by default).
    app.start_worker(|c| c.webhook_disable_after_secs = 1);
    let l = app.custom_link("Broken receiver", 100).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let e = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
        if e.body["status"] == "disabled" {
            break;
        }
        assert!(Instant::now() < deadline, "the endpoint was never disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let disabled = app.get("/v1/events?type=webhook_endpoint.disabled").await;
    assert_eq!(disabled.ok(200)["data"][0]["data"]["object"]["id"], id);
    // Re-enabled, a redelivered event arrives, signed.
    app.patch(
        &format!("/v1/webhook_endpoints/{id}"),
        json!({"status": "enabled"}),
    )
    .await
    .ok(200);
    let before = rx.received().len();
    let event = app.get("/v1/events?type=payment_link.created").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(&format!("/v1/events/{event}/redeliver"), json!({}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["deliveries_queued"].as_i64()),
        (202, Some(1))
    );
    let got = rx.wait_for(before + 1).await;
    let last = got.last().unwrap();
    assert_eq!(last.id, event);
    assert!(verifies(&secret, last));
    let _ = l;
}

/// Two workers, each with its own connections, against one PostgreSQL: 1,000 events,
/// each delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_deliver_a_thousand_events_once_each_postgres() {
    use paylink_store::Store;
    let app = TestApp::spawn_for_webhooks(paylink_store_sql::testing::Backend::Postgres).await;
    let rx = Receiver::start().await;
    endpoint(&app, &rx.url, json!(["payment_link.created"])).await;
    let t = paylink_store::Tenant::stored(
        paylink_domain::id::MerchantId::parse(&app.merchant_id).unwrap(),
        false,
    );
    let now = paylink_domain::time::Timestamp::now();
    for i in 0..1000 {
        let l = paylink_store::conformance::link(&t, &format!("Bulk {i}"), &format!("bulk-{i}"));
        let ev = paylink_domain::event::Event::new(
            paylink_domain::event::EventType::PaymentLinkCreated,
            &l,
            false,
            now,
        );
        app.store
            .insert_payment_link(&t, &l, &[ev], None)
            .await
            .unwrap();
    }
    let mut config = paylink_server::config::Config::for_database(&app.db_url);
    config.webhook_allow_networks = Some("127.0.0.0/8".into());
    config.webhook_poll_ms = 20;
    config.master_key = Some(app.master_key.clone().into());
    let shutdown = tokio_util::sync::CancellationToken::new();
    for _ in 0..2 {
        let store: Arc<dyn Store> = Arc::new(
            paylink_store_sql::SqlStore::connect(&app.db_url, &Default::default())
                .await
                .unwrap(),
        );
        let worker =
            paylink_server::worker::WorkerConfig::from_config(store.clone(), &config).unwrap();
        tokio::spawn(paylink_server::worker::run(store, worker, shutdown.clone()));
    }
    let got = rx.wait_for(1000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    let got_after = rx.received();
    let mut ids: Vec<&str> = got_after.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    eprintln!(
        "two workers: {} deliveries received, {} distinct events",
        got_after.len(),
        ids.len()
    );
    assert_eq!(
        (got.len().max(got_after.len()), ids.len()),
        (1000, 1000),
        "duplicates or losses"
    );
}

/// The real binary, killed with SIGKILL while deliveries are pending, loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_when_the_server_is_killed_postgres() {
    use std::process::Stdio;
    let db = paylink_store_sql::testing::TestDatabase::create(
        paylink_store_sql::testing::Backend::Postgres,
    )
    .await;
    let rx = Receiver::start().await;
    // The receiver fails at first, so deliveries are still pending when the server dies.
    rx.answer(&[Answer::Status(500); 6]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let master_key = hex::encode(rand::random::<[u8; 32]>());
    let run = || {
        crate::helpers::paylink_command()
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &db.url,
            ])
            .env("PAYLINK_NO_DEMO", "true")
            .env("PAYLINK_MASTER_KEY", &master_key)
            .env("PAYLINK_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8")
            .env(
                "PAYLINK_WEBHOOK_RETRY_SCHEDULE",
                "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
            )
            .env("PAYLINK_WEBHOOK_POLL_MS", "50")
            .env("PAYLINK_WEBHOOK_TIMEOUT_MS", "1000")
            .env("PAYLINK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let created = crate::helpers::paylink_command()
        .args([
            "merchant",
            "create",
            "--name",
            "Killable",
            "--email",
            "k@example.com",
            "--database-url",
            &db.url,
        ])
        .output()
        .unwrap();
    let key = serde_json::from_slice::<Value>(&created.stdout).unwrap()["secret_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut server = run();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    assert_eq!(
        post(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["payment_link.created"]})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let mut events = Vec::new();
    for i in 0..5 {
        let r: Value = post(
            "/v1/payment_links",
            json!({"title": format!("Survivor {i}"), "amount": 100}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        events.push(r["id"].as_str().unwrap().to_owned());
    }
    // Some attempts fail, then the server dies without warning.
    rx.wait_for(2).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let before = rx.received().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        rx.received().len(),
        before,
        "the dead server kept delivering"
    );
    let mut server = run();
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every event reaches the receiver after the restart (claims the dead server held lapse
    // after 2 × timeout + 5 s). The deadline only bounds a failing run: a loaded machine
    // (the whole suite at once) was once seen to need more than 40 s.
    let deadline = Instant::now() + Duration::from_secs(120);

    loop {
        let got = rx.received();
        let mut delivered: Vec<String> = got
            .iter()
            .skip(6)
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["data"]["object"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        delivered.sort();
        delivered.dedup();
        if events.iter().all(|e| delivered.contains(e)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events were lost: delivered {delivered:?} of {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
