//! Secret hygiene: after the real binary has made keys, rotated a webhook secret, set a
//! password and taken a card payment, neither database nor the server's own log holds a
//! full key, webhook secret, password, checkout secret, card number or CVC.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::helpers::{free_port, wait_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_database_or_the_log_sqlite() {
    hygiene(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_database_or_the_log_postgres() {
    hygiene(Backend::Postgres).await;
}

/// Everything the database holds, as bytes: the SQLite files themselves (free pages and
/// the WAL included), or every row of every PostgreSQL table as text.
pub(crate) async fn dump(db: &TestDatabase, backend: Backend) -> Vec<u8> {
    dump_url(&db.url, backend).await
}

/// [`dump`] of the database at `url`.
pub(crate) async fn dump_url(url: &str, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                    all.extend_from_slice(&b);
                }
            }
            assert!(
                all.len() > 10_000,
                "the SQLite files were not found at {path}"
            );
            all
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let mut all = Vec::new();
            for (t,) in tables {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT CAST(x AS TEXT) FROM \"{t}\" x"))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (r,) in rows {
                    all.extend_from_slice(r.as_bytes());
                    all.push(b'\n');
                }
            }
            // bytea columns print as hex: decode `\x…` runs too.
            let text = String::from_utf8_lossy(&all).into_owned();
            for run in text.split("\\\\x").skip(1) {
                let hex: String = run.chars().take_while(char::is_ascii_hexdigit).collect();
                if let Ok(b) = hex::decode(&hex[..hex.len() - hex.len() % 2]) {
                    all.extend_from_slice(&b);
                }
            }
            pool.close().await;
            all
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn hygiene(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let password = "Tangerine-Harbor-Quietly-41";
    let mut create = crate::helpers::paylink_command()
        .args([
            "merchant",
            "create",
            "--name",
            "Tidy",
            "--email",
            "t@example.com",
        ])
        .args(["--password-stdin", "--database-url", &db.url])
        .env("PAYLINK_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut create.stdin.take().unwrap(),
        format!("{password}\n").as_bytes(),
    )
    .unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success());
    let mut log = created.stderr.clone();
    let key = serde_json::from_slice::<Value>(&created.stdout).unwrap()["secret_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let port = free_port();
    let log_path =
        std::env::temp_dir().join(format!("paylink-hygiene-{}.log", rand::random::<u64>()));
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut server = crate::helpers::paylink_command()
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &db.url])
        .env("PAYLINK_NO_DEMO", "true")
        .env(
            "PAYLINK_MASTER_KEY",
            hex::encode(rand::random::<[u8; 32]>()),
        )
        .env("PAYLINK_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8")
        .env("PAYLINK_WEBHOOK_RETRY_SCHEDULE", "100ms")
        .env("PAYLINK_WEBHOOK_POLL_MS", "50")
        .env("PAYLINK_LOG", "debug")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_up(&client, &base).await;
    let post = |path: &str, body: Value, idem: &str| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .header("Idempotency-Key", idem)
            .json(&body)
            .send()
    };
    let mut secrets = vec![key.clone(), password.to_owned()];
    for (i, body) in [
        json!({"name": "deploy", "kind": "secret"}),
        json!({"name": "ci", "kind": "restricted", "scopes": ["payments:read"]}),
    ]
    .into_iter()
    .enumerate()
    {
        let k: Value = post("/v1/api_keys", body, &format!("key-{i}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        secrets.push(k["key"].as_str().unwrap().to_owned());
    }
    let ep: Value = post(
        "/v1/webhook_endpoints",
        json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}),
        "ep",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    secrets.push(ep["secret"].as_str().unwrap().to_owned());
    let rot: Value = post(
        &format!(
            "/v1/webhook_endpoints/{}/rotate_secret",
            ep["id"].as_str().unwrap()
        ),
        json!({}),
        "rot",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    secrets.push(rot["secret"].as_str().unwrap().to_owned());
    // A customer pays by card, retrying the checkout once (its answer is kept for that).
    let link: Value = post(
        "/v1/payment_links",
        json!({"title": "Tidy", "amount": 1200}),
        "link",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let checkout = format!(
        "{base}/api/public/links/{}/checkout",
        link["slug"].as_str().unwrap()
    );
    let mut session = Value::Null;
    for _ in 0..2 {
        session = client
            .post(&checkout)
            .header("Idempotency-Key", "checkout-1")
            .json(&json!({"email": "buyer@example.com"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    let client_secret = session["client_secret"].as_str().unwrap().to_owned();
    secrets.push(client_secret.clone());
    let card = "5555555555554444";
    let paid = client
        .post(format!(
            "{base}/api/public/checkout_sessions/{}/pay",
            session["id"].as_str().unwrap()
        ))
        .header("Idempotency-Key", "pay-1")
        .json(&json!({
            "client_secret": client_secret,
            "payment_method": {"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2099, "cvc": "7391"}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text().await.unwrap());
    // The worker has tried the webhook (and signed with the sealed secret).
    tokio::time::sleep(Duration::from_millis(600)).await;
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();

    log.extend_from_slice(&std::fs::read(&log_path).unwrap());
    let _ = std::fs::remove_file(&log_path);
    assert!(contains(&log, "listening"), "the log was not captured");
    let db_dump = dump(&db, backend).await;
    for (what, hay) in [("database", &db_dump), ("log", &log)] {
        for s in &secrets {
            // The full value, and its random part alone (a prefix may be cut or encoded).
            let tail = &s[s.len().saturating_sub(20)..];
            assert!(!contains(hay, s), "{what} holds a secret ({}…)", &s[..10]);
            assert!(
                !contains(hay, tail),
                "{what} holds part of a secret ({}…)",
                &s[..10]
            );
        }
        assert!(!contains(hay, card), "{what} holds the card number");
        assert!(!contains(hay, "\"cvc\""), "{what} holds a CVC");
    }
    // The payment itself is there: the search looked at real data.
    assert!(contains(&db_dump, "4444"), "the card's last 4 are kept");
    assert!(contains(&db_dump, "buyer@example.com"));
}
