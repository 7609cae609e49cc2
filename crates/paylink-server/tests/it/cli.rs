//! The `paylink` binary as a user runs it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use paylink_store_sql::testing::{Backend, TestDatabase};

fn paylink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paylink"));
    c.env("PAYLINK_LOG", "warn");
    for (k, _) in std::env::vars() {
        // `PAYLINK_TEST_POSTGRES_URL` too: the binary refuses a variable it does not know.
        if k.starts_with("PAYLINK_") && k != "PAYLINK_LOG" {
            c.env_remove(k);
        }
    }
    // Else `serve` would keep a generated key in the data directory.
    c.env(
        "PAYLINK_MASTER_KEY",
        hex::encode(rand::random::<[u8; 32]>()),
    );
    c
}

#[test]
fn openapi_command_prints_the_document() {
    let out = paylink().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["info"]["title"], "Paylink API");
}

#[tokio::test]
async fn merchant_create_and_migrate_sqlite() {
    merchant_create_and_migrate(Backend::Sqlite).await;
}

#[tokio::test]
async fn merchant_create_and_migrate_postgres() {
    merchant_create_and_migrate(Backend::Postgres).await;
}

async fn merchant_create_and_migrate(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let m = paylink()
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let mut child = paylink()
        .args([
            "merchant",
            "create",
            "--name",
            "Bakery",
            "--email",
            "bake@example.com",
            "--password-stdin",
        ])
        .env("PAYLINK_DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["merchant_id"].as_str().unwrap().starts_with("acct_"));
    assert!(v["secret_key"].as_str().unwrap().starts_with("sk_test_"));
    // The owner's password is stored as an argon2id hash, never as given.
    assert!(v["user_id"].as_str().unwrap().starts_with("usr_"));
    let store = paylink_store_sql::SqlStore::connect(&db.url, &Default::default())
        .await
        .unwrap();
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id") && !hash.contains("horse"));
    store.close().await;
    let bad = paylink()
        .args([
            "merchant",
            "create",
            "--name",
            "X",
            "--email",
            "not-an-email",
        ])
        .env("PAYLINK_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn serve_seeds_a_demo_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!(
        "paylink-cli-{}",
        paylink_domain::id::random_base62()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = paylink()
        .current_dir(&dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !printed.contains("/l/") && std::time::Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
    }
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("sk_test_"))
        .expect(&printed)
        .to_owned();
    assert!(
        dir.join("paylink-data/paylink.db").exists(),
        "the default database lives in ./paylink-data"
    );
    let client = reqwest::blocking_get(port, &key);
    assert_eq!(client, 200);
    // SIGTERM: a graceful stop with exit code 0.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_layers_file_then_env_then_flags() {
    let dir = std::env::temp_dir().join(format!(
        "paylink-cfg-{}",
        paylink_domain::id::random_base62()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (file_port, flag_port) = (free_port(), free_port());
    let cfg = dir.join("paylink.toml");
    std::fs::write(
        &cfg,
        format!("bind = \"127.0.0.1:{file_port}\"\ndata_dir = \"from-file\"\npublic_url = \"https://file.example\"\n"),
    )
    .unwrap();
    // File alone: its bind, data_dir and public_url.
    let printed = serve_until_link(paylink().current_dir(&dir).args([
        "serve",
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(
        printed.contains(&format!("127.0.0.1:{file_port}")),
        "{printed}"
    );
    assert!(printed.contains("https://file.example/l/"), "{printed}");
    assert!(dir.join("from-file/paylink.db").exists());
    // The environment beats the file, and a flag beats both.
    let printed = serve_until_link(
        paylink()
            .current_dir(&dir)
            .env("PAYLINK_CONFIG", &cfg)
            .env("PAYLINK_PUBLIC_URL", "https://env.example")
            .env("PAYLINK_DATA_DIR", "from-env")
            .args(["serve", "--bind", &format!("127.0.0.1:{flag_port}")]),
    );
    assert!(
        printed.contains(&format!("127.0.0.1:{flag_port}")),
        "{printed}"
    );
    assert!(printed.contains("https://env.example/l/"), "{printed}");
    assert!(dir.join("from-env/paylink.db").exists());
    // Bad values stop the program with a clear message.
    let bad = paylink()
        .current_dir(&dir)
        .env("PAYLINK_BIND", "not-an-address")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .to_lowercase()
            .contains("bind"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let missing = paylink()
        .args(["--config", "/nonexistent.toml", "migrate"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `serve`, reads its output until the sample link, then stops it.
fn serve_until_link(cmd: &mut Command) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !printed.contains("/l/") && std::time::Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    printed
}

mod reqwest {
    /// A minimal blocking GET with the key, without pulling reqwest's blocking feature.
    pub fn blocking_get(port: u16, key: &str) -> u16 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /v1/payment_links HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n").unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

/// Boolean variables take the spellings operators use; anything else is a clear error.
#[test]
fn boolean_variables_take_the_usual_spellings() {
    let dir = std::env::temp_dir().join(format!(
        "paylink-bool-{}",
        paylink_domain::id::random_base62()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for v in ["1", "0", "true", "FALSE", "yes", "no", "on", "off"] {
        let out = paylink()
            .current_dir(&dir)
            .env("PAYLINK_NO_DEMO", v)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "PAYLINK_NO_DEMO={v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = paylink()
        .current_dir(&dir)
        .env("PAYLINK_NO_DEMO", "maybe")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a boolean"));
    let _ = std::fs::remove_dir_all(&dir);
}
