//! The real binary killed with SIGKILL while it records payments Stripe has already taken:
//! the restarted server's worker (or the customer's retry) records each one, once; and
//! nothing it logged, at the most talkative level, holds a Stripe secret.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use super::{PK, SK, WHSEC};
use crate::helpers::{free_port, wait_up, Process};
use crate::stripe_peer::LocalStripe;
use paylink_store_sql::testing::{Backend, TestDatabase};

/// `paylink serve` (API, pages and worker) on Stripe's fake, logging everything to `log`.
fn serve(db: &str, master: &str, port: u16, peer: &LocalStripe, log: &std::path::Path) -> Process {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = crate::helpers::paylink_command()
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", db])
        .env("PAYLINK_NO_DEMO", "true")
        .env("PAYLINK_MASTER_KEY", master)
        .env("PAYLINK_LOG", "debug")
        .env("PAYLINK_STRIPE_API_BASE", &peer.base)
        .env("PAYLINK_STRIPE_JS_URL", peer.js_url())
        .env("PAYLINK_STRIPE_CHECK_AFTER_SECS", "1")
        .env("PAYLINK_WORKER_TICK_MS", "200")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    Process(child)
}

async fn killed_between_stripe_and_our_record(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let master = hex::encode(rand::random::<[u8; 32]>());
    let key = crate::crash::merchant(&db.url);
    let peer = LocalStripe::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::env::temp_dir().join(format!("paylink-stripe-crash-{port}.log"));
    let _ = std::fs::remove_file(&log);
    let client = reqwest::Client::new();
    let mut server = serve(&db.url, &master, port, &peer, &log);
    wait_up(&client, &base).await;
    let call = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let keys =
        json!({"mode": "test", "secret_key": SK, "publishable_key": PK, "webhook_secret": WHSEC});
    assert_eq!(
        call(reqwest::Method::PUT, "/v1/processors/stripe", keys)
            .await
            .unwrap()
            .status(),
        200
    );
    let s = call(
        reqwest::Method::PATCH,
        "/v1/settings",
        json!({"processors": {"test": "stripe"}}),
    );
    assert_eq!(s.await.unwrap().status(), 200);
    let link: Value = call(
        reqwest::Method::POST,
        "/v1/payment_links",
        json!({"title": "Crash", "amount": 1200}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let slug = link["slug"].as_str().unwrap().to_owned();

    let rounds: u64 = 8;
    let mut intents = Vec::new();
    for round in 0..rounds {
        let session: Value = client
            .post(format!("{base}/api/public/links/{slug}/checkout"))
            .json(&json!({"email": "buyer@example.com"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = session["stripe"]["payment_intent_client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        // Stripe takes the money (the browser confirmed)...
        let (status, pi) = peer.confirm(PK, &secret, "4242424242424242").await;
        assert_eq!(
            (status, pi["status"].as_str()),
            (200, Some("succeeded")),
            "{pi}"
        );
        intents.push((session.clone(), pi["id"].as_str().unwrap().to_owned()));
        // ...and the page's call to record it is cut by a SIGKILL at a different moment
        // each round: before it is read, while Stripe is asked, while it is written.
        let url = format!(
            "{base}/api/public/checkout_sessions/{}/pay",
            session["id"].as_str().unwrap()
        );
        let body = json!({"client_secret": session["client_secret"], "payment_method": {"type": "stripe"}});
        // (The first round's customer closed the tab: no call at all.)
        let pay = (round > 0).then(|| tokio::spawn(client.post(url).json(&body).send()));
        tokio::time::sleep(Duration::from_millis((round % 4) * 3)).await;
        server.kill();
        if let Some(pay) = pay {
            let _ = pay.await;
        }
        server = serve(&db.url, &master, port, &peer, &log);
        wait_up(&client, &base).await;
    }
    // Nobody calls again: the worker finds every payment Stripe took, and records it once.
    let mut paid = Vec::new();
    for _ in 0..200 {
        let list: Value = client
            .get(format!("{base}/v1/payments?status=succeeded&limit=100"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        paid = list["data"].as_array().unwrap().clone();
        if paid.len() >= rounds as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        paid.len(),
        rounds as usize,
        "every payment Stripe took is recorded: {paid:?}"
    );
    for (session, pi) in &intents {
        let of_it: Vec<&Value> = paid
            .iter()
            .filter(|p| p["processor_reference"] == pi.as_str())
            .collect();
        assert_eq!(of_it.len(), 1, "{pi} recorded once");
        // The customer's late retry gets that payment.
        let late: Value = client
            .post(format!("{base}/api/public/checkout_sessions/{}/pay", session["id"].as_str().unwrap()))
            .json(&json!({"client_secret": session["client_secret"], "payment_method": {"type": "stripe"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(late["payment_id"], of_it[0]["id"], "{late}");
    }
    server.kill();
    // What the server wrote, at debug level, across every life: no secret of Stripe's.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.len() > 1_000,
        "the server logged: {} bytes",
        logged.len()
    );
    for (_, pi) in &intents {
        assert!(
            !logged.contains(&format!("{pi}_secret_")),
            "a client secret in the logs"
        );
    }
    for secret in [SK, WHSEC] {
        assert!(!logged.contains(secret), "{secret} in the logs");
    }
    let by_worker = logged
        .matches("a Stripe payment nobody recorded was found and recorded")
        .count();
    eprintln!("{backend:?}: {by_worker} of {rounds} payments were recorded by the worker");
    assert!(by_worker >= 1, "the worker reconciled what nobody recorded");
    let _ = std::fs::remove_file(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_stripe_and_its_record_records_each_payment_once_sqlite() {
    killed_between_stripe_and_our_record(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_stripe_and_its_record_records_each_payment_once_postgres() {
    killed_between_stripe_and_our_record(Backend::Postgres).await;
}
