//! Several processes on one database behave as one deployment (issue 25): one server per
//! SQLite file, one public URL everywhere, one demo merchant at most.

use std::process::{Child, Output, Stdio};
use std::time::Duration;

use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::helpers::{free_port, paylink_command, wait_up};

fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "paylink-{what}-{}",
        paylink_domain::id::random_base62()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `paylink serve` on `port`, quiet.
fn serve(args: &[&str], port: u16, env: &[(&str, &str)]) -> Child {
    paylink_command()
        .args([
            "serve",
            "--no-worker",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(args)
        .env("PAYLINK_MASTER_KEY", "11".repeat(32))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a process expected to refuse to start; fails if it is still running.
fn refused(mut child: Child) -> Output {
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            assert!(!out.status.success(), "{out:?}");
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the process was expected to refuse to start, and kept running");
}

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let dir = temp_dir("lock");
    let data = dir.display().to_string();
    let client = reqwest::Client::new();
    let first_port = free_port();
    let mut first = serve(
        &["--data-dir", &data],
        first_port,
        &[("PAYLINK_NO_DEMO", "1")],
    );
    wait_up(&client, &format!("http://127.0.0.1:{first_port}")).await;
    let second = serve(
        &["--data-dir", &data],
        free_port(),
        &[("PAYLINK_NO_DEMO", "1")],
    );
    let out = refused(second);
    assert!(said(&out).contains("PostgreSQL"), "{}", said(&out));
    // The lock dies with its process, even by kill -9: the next server starts.
    first.kill().unwrap();
    first.wait().unwrap();
    let again_port = free_port();
    let mut again = serve(
        &["--data-dir", &data],
        again_port,
        &[("PAYLINK_NO_DEMO", "1")],
    );
    wait_up(&client, &format!("http://127.0.0.1:{again_port}")).await;
    again.kill().unwrap();
    again.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn processes_that_others_reach_need_the_public_url() {
    let dir = temp_dir("public-url");
    let data = dir.display().to_string();
    let worker = paylink_command()
        .args(["worker", "--data-dir", &data])
        .env_remove("PAYLINK_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = refused(worker);
    assert!(said(&out).contains("public_url"), "{}", said(&out));
    let open = paylink_command()
        .args(["serve", "--data-dir", &data])
        .args(["--bind", &format!("0.0.0.0:{}", free_port())])
        .env_remove("PAYLINK_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = refused(open);
    assert!(said(&out).contains("public_url"), "{}", said(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Instances started together on an empty PostgreSQL make one demo merchant when asked,
/// and none when not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_make_one_demo_at_most_postgres() {
    let client = reqwest::Client::new();
    for asked in [false, true] {
        let db = TestDatabase::create(Backend::Postgres).await;
        let migrate = paylink_command()
            .args(["migrate", "--database-url", &db.url])
            .output()
            .unwrap();
        assert!(migrate.status.success(), "{migrate:?}");
        let demo = if asked { "true" } else { "false" };
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut servers: Vec<Child> = ports
            .iter()
            .map(|p| serve(&["--database-url", &db.url], *p, &[("PAYLINK_DEMO", demo)]))
            .collect();
        for p in &ports {
            wait_up(&client, &format!("http://127.0.0.1:{p}")).await;
        }
        let (demos,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM merchants WHERE name = 'Demo Shop'")
                .fetch_one(&sqlx::PgPool::connect(&db.url).await.unwrap())
                .await
                .unwrap();
        let mut printed_keys = 0;
        for s in &mut servers {
            s.kill().unwrap();
        }
        for s in servers {
            let out = s.wait_with_output().unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("sk_test_") {
                printed_keys += 1;
            }
        }
        let want = i64::from(asked);
        assert_eq!((demos, printed_keys), (want, want), "asked: {asked}");
    }
}

/// Two instances on one PostgreSQL keep what they read for a minute here, so only the
/// change feed can tell the second one that a key was revoked or a link deactivated on the
/// first. How long it took is printed (speed is measured in scripts/bench, not here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_reaches_the_other_postgres() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let run = |args: &[&str]| {
        let out = paylink_command()
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"]);
    let made: serde_json::Value = serde_json::from_str(&run(&[
        "merchant",
        "create",
        "--name",
        "Twin",
        "--email",
        "twin@example.com",
    ]))
    .unwrap();
    let merchant = made["merchant_id"].as_str().unwrap().to_owned();
    let doomed = made["secret_key"].as_str().unwrap().to_owned();
    let second: serde_json::Value =
        serde_json::from_str(&run(&["key", "create", "--merchant", &merchant])).unwrap();
    let keeper = second["secret_key"].as_str().unwrap().to_owned();
    let env = [
        ("PAYLINK_PUBLIC_CACHE_MS", "60000"),
        ("PAYLINK_NO_DEMO", "1"),
    ];
    let (pa, pb) = (free_port(), free_port());
    let mut a = serve(&["--database-url", &db.url], pa, &env);
    let mut b = serve(&["--database-url", &db.url], pb, &env);
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let client = reqwest::Client::new();
    wait_up(&client, &base_a).await;
    wait_up(&client, &base_b).await;
    let get = |base: &str, path: &str, key: &str| {
        client.get(format!("{base}{path}")).bearer_auth(key).send()
    };
    // B resolves the doomed key and keeps it; B shows the link's page and keeps it.
    let link: serde_json::Value = client
        .post(format!("{base_a}/v1/payment_links"))
        .bearer_auth(&keeper)
        .json(&serde_json::json!({"title": "Twin link", "amount": 1200}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slug = link["slug"].as_str().unwrap();
    let preview = format!("/api/public/links/{slug}");
    assert_eq!(
        get(&base_b, "/v1/payment_links", &doomed)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(get(&base_b, &preview, "").await.unwrap().status(), 200);
    // The key is revoked and the link deactivated through A.
    let keys: serde_json::Value = get(&base_a, "/v1/api_keys", &keeper)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doomed_id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] != second["key_id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    let revoked = client
        .delete(format!("{base_a}/v1/api_keys/{doomed_id}"))
        .bearer_auth(&keeper)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let mut refused_after = None;
    while started.elapsed() < Duration::from_secs(10) {
        if get(&base_b, "/v1/payment_links", &doomed)
            .await
            .unwrap()
            .status()
            == 401
        {
            refused_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused_after = refused_after.expect("the other instance kept taking a revoked key");
    let deactivated = client
        .post(format!(
            "{base_a}/v1/payment_links/{}/deactivate",
            link["id"].as_str().unwrap()
        ))
        .bearer_auth(&keeper)
        .send()
        .await
        .unwrap();
    assert_eq!(deactivated.status(), 200);
    let started = std::time::Instant::now();
    let mut inactive_after = None;
    while started.elapsed() < Duration::from_secs(10) {
        // A deactivated link's page is gone (`410 link_inactive`).
        if get(&base_b, &preview, "").await.unwrap().status() == 410 {
            inactive_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let inactive_after =
        inactive_after.expect("the other instance kept showing a deactivated link");
    eprintln!("the other instance refused the revoked key after {refused_after:?} and saw the deactivated link after {inactive_after:?}");
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}

/// A pool PostgreSQL could never fill is said at start, not found out under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfillable_pool_is_said_at_start_postgres() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let client = reqwest::Client::new();
    for (max, warned) in [("4", false), ("100000", true)] {
        let port = free_port();
        let server = serve(
            &["--database-url", &db.url],
            port,
            &[
                ("PAYLINK_DB_MAX_CONNECTIONS", max),
                ("PAYLINK_NO_DEMO", "1"),
            ],
        );
        wait_up(&client, &format!("http://127.0.0.1:{port}")).await;
        std::process::Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        let out = server.wait_with_output().unwrap();
        assert_eq!(
            said(&out).contains("cannot be filled"),
            warned,
            "db_max_connections {max}: {}",
            said(&out)
        );
    }
}
