//! With `redis_url`, two instances share a key's rate limit; without Redis, or when it
//! goes away, each limits on its own: never no limit, never refusing everything (issue 25).

use std::process::{Command, Stdio};
use std::time::Duration;

use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::helpers::{free_port, paylink_command, wait_up};

use crate::helpers::Process;
fn redis(port: u16) -> Process {
    let bin = ["/usr/bin/redis-server", "redis-server"]
        .into_iter()
        .find(|b| std::path::Path::new(b).exists())
        .unwrap_or("redis-server");
    Process(
        Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed (scripts/test installs Debian's)"),
    )
}

/// How many of `n` requests with `key`, alternating between the instances, got through.
async fn allowed(client: &reqwest::Client, bases: &[String], key: &str, n: usize) -> usize {
    let mut ok = 0;
    for i in 0..n {
        let r = client
            .get(format!("{}/v1/payment_links", bases[i % bases.len()]))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {}
            s => panic!("unexpected {s}"),
        }
    }
    ok
}

/// How many of `n` wrong sign-ins of one address, alternating between the instances, had
/// their password checked (`401`, not `429`).
async fn guesses(client: &reqwest::Client, bases: &[String], n: usize) -> usize {
    let mut tried = 0;
    for i in 0..n {
        let r = client
            .post(format!("{}/auth/login", bases[i % bases.len()]))
            .json(&serde_json::json!({"email": "ghost@example.com", "password": format!("guess {i}")}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => tried += 1,
            429 => {}
            s => panic!("unexpected {s}"),
        }
    }
    tried
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_key_s_limit_in_redis_postgres() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let out = paylink_command()
        .args([
            "merchant",
            "create",
            "--name",
            "Shared",
            "--email",
            "s@example.com",
        ])
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = made["secret_key"].as_str().unwrap().to_owned();
    let redis_port = free_port();
    let mut cache = Some(redis(redis_port));
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let client = reqwest::Client::new();
    let start = |with_redis: bool| {
        let port = free_port();
        let mut cmd = paylink_command();
        cmd.args([
            "serve",
            "--no-worker",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--database-url", &db.url])
        .env("PAYLINK_MASTER_KEY", "33".repeat(32))
        .env("PAYLINK_NO_DEMO", "1")
        // A burst of 6, and one more every 100 s: the test outruns the refill.
        .env("PAYLINK_RATE_LIMIT_PER_SECOND", "1")
        .env("PAYLINK_RATE_LIMIT_BURST", "6")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if with_redis {
            cmd.env("PAYLINK_REDIS_URL", &redis_url);
        }
        (
            Process(cmd.spawn().unwrap()),
            format!("http://127.0.0.1:{port}"),
        )
    };
    // Without Redis each instance allows its own burst: 12 of 12.
    let (_a, a) = start(false);
    let (_b, b) = start(false);
    let bases = [a, b];
    for base in &bases {
        wait_up(&client, base).await;
    }
    assert_eq!(allowed(&client, &bases, &key, 12).await, 12);
    drop((_a, _b));
    // With Redis the two share one burst. (Another key: the first one's bucket is spent.)
    let second = paylink_command()
        .args([
            "key",
            "create",
            "--merchant",
            made["merchant_id"].as_str().unwrap(),
        ])
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    let second: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let key = second["secret_key"].as_str().unwrap().to_owned();
    let (_a, a) = start(true);
    let (_b, b) = start(true);
    let bases = [a, b];
    for base in &bases {
        wait_up(&client, base).await;
    }
    let shared = allowed(&client, &bases, &key, 12).await;
    assert!(
        (6..=7).contains(&shared),
        "{shared} of 12 through a shared burst of 6"
    );
    // Sign-in guesses are counted by both together as well: ten of an address from one
    // client, whichever instance each reaches (without Redis, each would allow ten).
    assert_eq!(guesses(&client, &bases, 12).await, 10);
    // Redis goes away: each instance limits on its own again, from a fresh local bucket.
    drop(cache.take());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alone = allowed(&client, &bases, &key, 30).await;
    assert!(
        (1..30).contains(&alone),
        "{alone} of 30 without Redis: neither no limit nor refusing everything"
    );
}
