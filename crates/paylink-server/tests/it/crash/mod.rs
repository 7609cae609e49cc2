//! The real binary killed with SIGKILL while a payment is with the processor: the
//! customer's retry is taken over within seconds (not the 60 s of the idempotency lock or
//! the 30 s of `attempt_stale_after_secs`), and the session is paid once. `stream` does the
//! same to a stream of customers, and `audit` checks what they were told against the
//! database and the processor's own records.

mod audit;
mod ledger;
mod stream;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::helpers::{free_port, wait_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_cut_by_a_crash_is_retried_within_seconds_sqlite() {
    cut_by_a_crash(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_cut_by_a_crash_is_retried_within_seconds_postgres() {
    cut_by_a_crash(Backend::Postgres).await;
}

/// A process of the real binary, killed when dropped: a failing test leaves none behind.
pub(super) use crate::helpers::Process;
/// The real binary on `db` with the tests' settings, `env` and `args`.
pub(super) fn paylink(db: &str, master: &str, env: &[(&str, &str)], args: &[&str]) -> Process {
    let child = crate::helpers::paylink_command()
        .args(args)
        .args(["--database-url", db])
        .env("PAYLINK_NO_DEMO", "true")
        .env("PAYLINK_MASTER_KEY", master)
        .env("PAYLINK_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

fn serve(db: &str, port: u16, key: &str) -> Process {
    // The processor takes 2 s: long enough to die in the middle of a call.
    let bind = format!("127.0.0.1:{port}");
    let args = ["serve", "--no-worker", "--bind", &bind];
    paylink(
        db,
        key,
        &[("PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS", "2000")],
        &args,
    )
}

/// A merchant made with `paylink merchant create`; returns its secret key.
pub(super) fn merchant(db: &str) -> String {
    let created = crate::helpers::paylink_command()
        .args([
            "merchant",
            "create",
            "--name",
            "Crash",
            "--email",
            "c@example.com",
        ])
        .args(["--database-url", db])
        .env("PAYLINK_LOG", "warn")
        .output()
        .unwrap();
    assert!(created.status.success());
    serde_json::from_slice::<Value>(&created.stdout).unwrap()["secret_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn cut_by_a_crash(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let master = hex::encode(rand::random::<[u8; 32]>());
    let key = merchant(&db.url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(&db.url, port, &master);
    wait_up(&client, &base).await;
    let link: Value = client
        .post(format!("{base}/v1/payment_links"))
        .bearer_auth(&key)
        .json(&json!({"title": "Once", "amount": 700, "payments_limit": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session: Value = client
        .post(format!(
            "{base}/api/public/links/{}/checkout",
            link["slug"].as_str().unwrap()
        ))
        .json(&json!({"email": "buyer@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pay_url = format!(
        "{base}/api/public/checkout_sessions/{}/pay",
        session["id"].as_str().unwrap()
    );
    let pay_body = json!({
        "client_secret": session["client_secret"],
        "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}},
    });
    let pay = {
        let (client, url, body) = (client.clone(), pay_url.clone(), pay_body.clone());
        move || {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                client
                    .post(url)
                    .header("Idempotency-Key", "pay-once")
                    .json(&body)
                    .send()
                    .await
            }
        }
    };
    // The first attempt is with the processor when the process dies.
    let first = tokio::spawn(pay());
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill();
    assert!(first.await.unwrap().is_err(), "the answer was lost");
    let mut server = serve(&db.url, port, &master);
    wait_up(&client, &base).await;
    // The customer retries at once and keeps retrying while told to.
    let cut = Instant::now();
    let answer = loop {
        let r = pay().await.unwrap();
        if r.status() != 409 {
            break r;
        }
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "idempotency_key_in_use", "{v}");
        assert!(
            cut.elapsed() < Duration::from_secs(20),
            "still locked after {:?}",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let waited = cut.elapsed();
    eprintln!("{backend:?}: the retry was taken over after {waited:?}");
    assert_eq!(answer.status(), 200);
    let paid: Value = answer.json().await.unwrap();
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // The dead process's last heartbeat ages past DEAD_AFTER_SECS (whole seconds, so up to
    // one more) at most HEARTBEAT_SECS after the kill; then the resumed attempt's 2 s with
    // the processor; 3 s of slack for a loaded machine. Before, 60 s.
    let bound = paylink_store::DEAD_AFTER_SECS as u64 + 1 + paylink_store::HEARTBEAT_SECS + 2 + 3;
    assert!(waited < Duration::from_secs(bound), "{waited:?}");
    // One payment, and a repeat gets the same answer.
    let again: Value = pay().await.unwrap().json().await.unwrap();
    assert_eq!(again, paid);
    let payments: Value = client
        .get(format!("{base}/v1/payments"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let succeeded = payments["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .count();
    assert_eq!(succeeded, 1, "{payments}");
    server.kill();
}
