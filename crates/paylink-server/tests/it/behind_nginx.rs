//! The deployment the guide describes, run for real: one PostgreSQL, two `serve
//! --no-worker` instances and two workers, behind nginx (Debian's) with the guide's own
//! site config (`docs/deploy/nginx.conf`). Through nginx: a limit stampede split across the
//! instances is exact, customers are told apart, a revoked key stops working on both
//! instances at once, and a worker killed with `kill -9` loses no webhook (issue 25).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::helpers::{free_port, paylink_command, wait_up};
use crate::webhooks::Receiver;

use crate::helpers::Process;
/// The guide's site config with this test's ports, inside a main config of its own.
fn nginx(listen: u16, a: u16, b: u16, dir: &std::path::Path) -> Process {
    let site = include_str!("../../../../docs/deploy/nginx.conf")
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{listen};"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{a}"))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{b}"))
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_"))
        .collect::<Vec<_>>()
        .join("\n");
    let d = dir.display();
    let conf = format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    // Debian puts it in /usr/sbin, which a user's PATH may lack.
    let bin = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|b| std::path::Path::new(b).exists())
        .unwrap_or("nginx");
    let child = Command::new(bin)
        .args(["-p", &d.to_string(), "-c", &path.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx is needed (scripts/test installs Debian's)");
    Process(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_and_two_workers_behind_nginx_postgres() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let dir = std::env::temp_dir().join(format!(
        "paylink-nginx-{}",
        paylink_domain::id::random_base62()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cli = |args: &[&str]| -> Value {
        let out = paylink_command()
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    cli(&["migrate"]);
    let made = cli(&[
        "merchant",
        "create",
        "--name",
        "Edge",
        "--email",
        "edge@example.com",
    ]);
    let merchant = made["merchant_id"].as_str().unwrap().to_owned();
    let key = made["secret_key"].as_str().unwrap().to_owned();
    let doomed = cli(&["key", "create", "--merchant", &merchant]);
    let doomed_key = doomed["secret_key"].as_str().unwrap().to_owned();

    let (front, a, b) = (free_port(), free_port(), free_port());
    let public = format!("http://127.0.0.1:{front}");
    let master = "22".repeat(32);
    let env: Vec<(&str, &str)> = vec![
        ("PAYLINK_PUBLIC_URL", &public),
        ("PAYLINK_MASTER_KEY", &master),
        ("PAYLINK_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("PAYLINK_NO_DEMO", "1"),
        // A minute: only the change feed can make the instances agree quickly.
        ("PAYLINK_PUBLIC_CACHE_MS", "60000"),
        ("PAYLINK_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8"),
        (
            "PAYLINK_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms,200ms",
        ),
        ("PAYLINK_WEBHOOK_POLL_MS", "50"),
        ("PAYLINK_LOG", "warn"),
    ];
    let start = |args: &[&str]| {
        Process(
            paylink_command()
                .args(args)
                .args(["--database-url", &db.url])
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let _a = start(&["serve", "--no-worker", "--bind", &format!("127.0.0.1:{a}")]);
    let _b = start(&["serve", "--no-worker", "--bind", &format!("127.0.0.1:{b}")]);
    let mut worker_one = start(&["worker"]);
    let _worker_two = start(&["worker"]);
    let _nginx = nginx(front, a, b, &dir);
    let client = reqwest::Client::new();
    for base in [
        &format!("http://127.0.0.1:{a}"),
        &format!("http://127.0.0.1:{b}"),
        &public,
    ] {
        wait_up(&client, base).await;
    }
    let api = |method: reqwest::Method, path: &str, key: &str, body: Option<Value>| {
        let mut r = client
            .request(method, format!("{public}{path}"))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };

    // Webhooks: an endpoint for link creations, reached through a worker that will die.
    let rx = Receiver::start().await;
    let hook = api(
        reqwest::Method::POST,
        "/v1/webhook_endpoints",
        &key,
        Some(json!({"url": rx.url, "enabled_events": ["payment_link.created"]})),
    )
    .await
    .unwrap();
    assert_eq!(hook.status(), 201);

    // A limit of 10 under a stampede of 40 customers, each with an address of their own.
    let link: Value = api(
        reqwest::Method::POST,
        "/v1/payment_links",
        &key,
        Some(json!({"title": "Split stampede", "amount": 700, "payments_limit": 10})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let slug = link["slug"].as_str().unwrap().to_owned();
    let buyers: Vec<_> = (0..40)
        .map(|i| {
            let (client, public, slug) = (client.clone(), public.clone(), slug.clone());
            tokio::spawn(async move {
                let ip = format!("198.51.100.{i}");
                let s = client
                    .post(format!("{public}/api/public/links/{slug}/checkout"))
                    .header("x-forwarded-for", &ip)
                    .json(&json!({"email": format!("b{i}@example.com")}))
                    .send()
                    .await
                    .unwrap();
                if s.status() != 201 {
                    return false;
                }
                let s: Value = s.json().await.unwrap();
                let paid = client
                    .post(format!(
                        "{public}/api/public/checkout_sessions/{}/pay",
                        s["id"].as_str().unwrap()
                    ))
                    .header("x-forwarded-for", &ip)
                    .json(&json!({"client_secret": s["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}}))
                    .send()
                    .await
                    .unwrap();
                paid.status() == 200
            })
        })
        .collect();
    let mut paid = 0;
    for b in buyers {
        paid += usize::from(b.await.unwrap());
    }
    let after: Value = api(
        reqwest::Method::GET,
        &format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
        &key,
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!((paid, after["payments_count"].as_u64()), (10, Some(10)));

    // The doomed key works on both instances (and is cached there), then is revoked
    // through one: no request through nginx takes it afterwards.
    for _ in 0..4 {
        let r = api(reqwest::Method::GET, "/v1/payment_links", &doomed_key, None).await;
        assert_eq!(r.unwrap().status(), 200);
    }
    let revoked = api(
        reqwest::Method::DELETE,
        &format!("/v1/api_keys/{}", doomed["key_id"].as_str().unwrap()),
        &key,
        None,
    )
    .await
    .unwrap();
    assert_eq!(revoked.status(), 200);
    let since = Instant::now();
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 10 {
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "an instance kept taking the revoked key"
        );
        let r = api(reqwest::Method::GET, "/v1/payment_links", &doomed_key, None).await;
        refused_in_a_row = if r.unwrap().status() == 401 {
            refused_in_a_row + 1
        } else {
            0
        };
    }
    eprintln!(
        "behind nginx: revoked key refused everywhere {:?} after the revocation",
        since.elapsed()
    );

    // Forty links, and one worker killed with SIGKILL while their events go out: every
    // one is delivered all the same.
    let mut created = BTreeSet::new();
    for i in 0..40 {
        let l: Value = api(
            reqwest::Method::POST,
            "/v1/payment_links",
            &key,
            Some(json!({"title": format!("Hooked {i}"), "amount": 100})),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        created.insert(l["id"].as_str().unwrap().to_owned());
        if i == 10 {
            worker_one.0.kill().unwrap();
        }
    }
    let delivered = |rx: &Receiver| -> BTreeSet<String> {
        rx.received()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter_map(|b| b["data"]["object"]["id"].as_str().map(str::to_owned))
            .collect()
    };
    let since = Instant::now();
    while !created.is_subset(&delivered(&rx)) {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{} of {} links' events never arrived",
            created.difference(&delivered(&rx)).count(),
            created.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
