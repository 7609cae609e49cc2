// `serde_json::Value` indexing returns `Null` for a missing key instead of panicking, and this
// binary measures rather than serves: indexing JSON answers is fine here.
#![allow(clippy::indexing_slicing)]

//! `paylink-bench`: Paylink's hot paths, each next to a baseline measured in the same run on
//! the same machine, on SQLite and on PostgreSQL. Closed-loop load from this process to
//! 127.0.0.1 only, bounded in time. Not a test: it prints figures, it asserts nothing.
//!
//! Baselines: a minimal axum server answering a 1 KiB HTML page (for the public pages), and
//! a minimal axum server doing one `INSERT … RETURNING` per request on the same database
//! (for writes). Both run as separate processes, as the Paylink server does, so memory can
//! be read per process.

mod baselines;
mod dashboard;
mod load;
mod nginx;
mod renewals;
mod seed;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use load::{in_turns, requests, run, Measure};

/// Turns in which a figure and its baseline are measured (see `load::in_turns`).
const ROUNDS: u32 = 5;

#[derive(Parser, Debug)]
#[command(about = "Measure Paylink against baselines measured in the same run")]
struct Args {
    /// A few seconds per figure and fewer seeded links (finishes in about two minutes).
    #[arg(long)]
    quick: bool,
    /// Only these figures, comma-separated: pages, create, purchase, nginx, scale,
    /// dashboard, slow, renewals (for profiling one path; the default is all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only this backend (`sqlite` or `postgres`).
    #[arg(long)]
    backend: Option<String>,
    /// PostgreSQL server on which to create the benchmark's own databases.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// Path of the `paylink` binary (default: next to this one).
    #[arg(long)]
    paylink: Option<std::path::PathBuf>,
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(clap::Subcommand, Debug)]
enum Role {
    /// (internal) the hello-world baseline server
    BaselineHello { port: u16 },
    /// (internal) the INSERT … RETURNING baseline server
    BaselineInsert { port: u16, database_url: String },
}

struct Settings {
    only: Vec<String>,
    secs: Duration,
    warmup: Duration,
    large: usize,
    /// Due subscriptions the renewal run starts with.
    renewals: usize,
    /// Which turn of [`load::in_turns`] this is: request numbers differ from turn to turn
    /// (a create's idempotency key is made from its number).
    turn: u32,
}

impl Settings {
    fn wants(&self, figure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|f| f == figure)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &args.role {
        Some(Role::BaselineHello { port }) => return rt.block_on(baselines::hello(*port)),
        Some(Role::BaselineInsert { port, database_url }) => {
            return rt.block_on(baselines::insert(*port, database_url))
        }
        None => {}
    }
    rt.block_on(bench(args))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Resident memory of a process, in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_up(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} did not come up")
}

fn paylink_bin(args: &Args) -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = &args.paylink {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let p = me.with_file_name("paylink");
    anyhow::ensure!(
        p.exists(),
        "build the server first: cargo build --release -p paylink-server"
    );
    Ok(p)
}

async fn start_paylink(
    bin: &std::path::Path,
    db: &str,
    latency_ms: u64,
    cache_ms: u64,
) -> anyhow::Result<(Proc, String)> {
    let port = free_port()?;
    let child = Command::new(bin)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db,
        ])
        .env("PAYLINK_NO_DEMO", "true")
        // Where `serve` keeps its generated master key (builds before it ignore this).
        .env(
            "PAYLINK_DATA_DIR",
            std::env::temp_dir().join("paylink-bench-data"),
        )
        .env("PAYLINK_LOG", "warn")
        .env("PAYLINK_RATE_LIMIT_PER_SECOND", "10000000")
        .env("PAYLINK_RATE_LIMIT_BURST", "10000000")
        .env("PAYLINK_PUBLIC_RATE_LIMIT_PER_SECOND", "10000000")
        .env("PAYLINK_PUBLIC_RATE_LIMIT_BURST", "10000000")
        .env(
            "PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS",
            latency_ms.to_string(),
        )
        .env("PAYLINK_DB_MAX_CONNECTIONS", "16")
        .env("PAYLINK_PUBLIC_CACHE_MS", cache_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&reqwest::Client::new(), &format!("{base}/healthz")).await?;
    Ok((Proc(child), base))
}

fn merchant_key(bin: &std::path::Path, db: &str, name: &str) -> anyhow::Result<String> {
    let email = format!("{}@example.com", name.to_lowercase().replace(' ', "-"));
    let out = Command::new(bin)
        .args([
            "merchant",
            "create",
            "--name",
            name,
            "--email",
            &email,
            "--database-url",
            db,
        ])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "merchant create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["secret_key"].as_str().unwrap_or_default().to_owned())
}

fn start_baseline(role: &str, extra: &[&str]) -> anyhow::Result<(Proc, String)> {
    let port = free_port()?;
    let mut args = vec![role.to_owned(), port.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new(std::env::current_exe()?)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((Proc(child), format!("http://127.0.0.1:{port}")))
}

struct Row {
    figure: String,
    ours: Measure,
    baseline: Option<Measure>,
    target: &'static str,
}

fn print(rows: &[Row], backend: &str) {
    println!("\n## {backend}\n");
    println!("| figure | req/s | p50 ms | p99 ms | errors | baseline req/s | ratio | target |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        let (b, ratio) = match &r.baseline {
            Some(b) => (
                format!("{:.0}", b.rps),
                format!("{:.0} %", 100.0 * r.ours.rps / b.rps),
            ),
            None => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {b} | {ratio} | {} |",
            r.figure, r.ours.rps, r.ours.p50_ms, r.ours.p99_ms, r.ours.errors, r.target
        );
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let s = if args.quick {
        Settings {
            only: args.only.clone(),
            secs: Duration::from_secs(3),
            warmup: Duration::from_millis(500),
            large: 20_000,
            renewals: 1_000,
            turn: 0,
        }
    } else {
        Settings {
            only: args.only.clone(),
            secs: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            large: 1_000_000,
            renewals: 10_000,
            turn: 0,
        }
    };
    let bin = paylink_bin(&args)?;
    let started = Instant::now();
    println!(
        "# paylink-bench{} — {} cores, {}",
        if args.quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        uname()
    );
    for backend in ["sqlite", "postgres"] {
        if args.backend.as_deref().is_some_and(|b| b != backend) {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("paylink-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let db = match backend {
            "sqlite" => format!("sqlite://{}", dir.join("bench.db").display()),
            _ => seed::create_pg_database(&args.postgres).await?,
        };
        let baseline_db = match backend {
            "sqlite" => format!("sqlite://{}", dir.join("baseline.db").display()),
            _ => match seed::create_pg_database(&args.postgres).await {
                Ok(url) => url,
                Err(e) => {
                    seed::drop_pg_database(&args.postgres, &db).await;
                    return Err(e);
                }
            },
        };
        // The databases go whatever happens to the run, Ctrl-C included: a full run's
        // holds a million links. Dropping the run stops its servers (`Proc`) first.
        let ran = tokio::select! {
            ran = backend_run(&bin, &db, &baseline_db, &s) => ran,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        if backend == "postgres" {
            seed::drop_pg_database(&args.postgres, &db).await;
            seed::drop_pg_database(&args.postgres, &baseline_db).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
        print(&ran?, backend);
    }
    println!("\nfinished in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn uname() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

async fn backend_run(
    bin: &std::path::Path,
    db: &str,
    baseline_db: &str,
    s: &Settings,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let key = merchant_key(bin, db, "Bench")?;
    let lean_key = merchant_key(bin, db, "Bench lean")?;
    let (server, base) = start_paylink(bin, db, 0, 1_000).await?;
    let pid = server.0.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mib(pid);
    let client = load::client(256);
    let link: Value = client
        .post(format!("{base}/v1/payment_links"))
        .bearer_auth(&key)
        .json(
            &json!({"title": "Bench page", "amount": 1000, "description": "A **benchmark** link."}),
        )
        .send()
        .await?
        .json()
        .await?;
    let slug = link["slug"].as_str().unwrap_or_default().to_owned();
    // A merchant whose payments make no order and send no receipt: a purchase doing the
    // work of builds before those existed (which refuse the settings and do neither).
    let _ = client
        .patch(format!("{base}/v1/settings"))
        .bearer_auth(&lean_key)
        .json(&json!({"create_orders": false, "email_receipts": false}))
        .send()
        .await?;
    let lean: Value = client
        .post(format!("{base}/v1/payment_links"))
        .bearer_auth(&lean_key)
        .json(&json!({"title": "Bench lean", "amount": 1000}))
        .send()
        .await?
        .json()
        .await?;
    let lean_slug = lean["slug"].as_str().unwrap_or_default().to_owned();

    // 1. Public pages against hello world, in turns (see `load::in_turns`).
    let get = |url: String| move |c: &reqwest::Client, _: u64| c.get(url.clone());
    if s.wants("pages") {
        let (_hello, hello_base) = start_baseline("baseline-hello", &[])?;
        wait_up(&client, &hello_base).await?;
        let loads = [
            requests(&client, 64, get(hello_base.clone())),
            requests(&client, 64, get(format!("{base}/l/{slug}"))),
            requests(&client, 64, get(format!("{base}/api/public/links/{slug}"))),
        ];
        let [hello, page, preview] = <[Measure; 3]>::try_from(in_turns(&loads, s, ROUNDS).await)
            .map_err(|_| anyhow::anyhow!("three loads, three measures"))?;
        rows.push(Row {
            figure: "GET /l/{slug} (64 conns)".into(),
            ours: page,
            baseline: Some(hello.clone()),
            target: "≥ 50 %, p99 ≤ 10 ms",
        });
        rows.push(Row {
            figure: "GET /api/public/links/{slug}".into(),
            ours: preview,
            baseline: Some(hello),
            target: "≥ 50 %, p99 ≤ 10 ms",
        });
    }

    // 2. and 3. Writes against one INSERT … RETURNING per request, in turns.
    if s.wants("create") || s.wants("purchase") {
        let (_ins, ins_base) = start_baseline("baseline-insert", &[baseline_db])?;
        wait_up(&client, &format!("{ins_base}/health")).await?;
        let insert_url = format!("{ins_base}/insert");
        let (create_url, key2) = (format!("{base}/v1/payment_links"), key.clone());
        let mut loads = vec![requests(&client, 64, move |c, _| {
            c.post(insert_url.clone())
        })];
        let mut figures = Vec::new();
        if s.wants("create") {
            loads.push(requests(&client, 64, move |c, i| {
                c.post(create_url.clone())
                    .bearer_auth(&key2)
                    .header("Idempotency-Key", format!("bench-{i}"))
                    .json(&json!({"title": "Bench link", "amount": 1500}))
            }));
            figures.push((
                "POST /v1/payment_links (64 conns)",
                "≥ 50 % PG, ≥ 40 % SQLite",
            ));
        }
        if s.wants("purchase") {
            loads.push(load::purchase_load(&client, &base, &slug, 64));
            figures.push((
                "checkout + pay, with its order and receipt (64 conns)",
                "≥ 25 %",
            ));
            loads.push(load::purchase_load(&client, &base, &lean_slug, 64));
            figures.push(("checkout + pay, no order or receipt (64 conns)", "≥ 25 %"));
        }
        let mut measures = in_turns(&loads, s, ROUNDS).await.into_iter();
        let insert = measures.next();
        for ((figure, target), ours) in figures.into_iter().zip(measures) {
            rows.push(Row {
                figure: figure.into(),
                ours,
                baseline: insert.clone(),
                target,
            });
        }
    }
    let loaded = rss_mib(pid);

    // 3b. PostgreSQL: purchases through nginx to two instances, against one instance.
    if s.wants("nginx") && db.starts_with("postgres") {
        if let Some(row) = two_instances(bin, db, &client, &base, &slug, s).await? {
            rows.push(row);
        }
        rows.push(change_seen_elsewhere(bin, db, &client, &base, &key).await?);
    }

    drop(server);

    // 4. Scale: the public preview and the list at two sizes of the links table. Each
    // preview asks for a link picked at random among all of them, on a server that keeps
    // no views (public_cache_ms = 0): this measures what the database does as it grows,
    // not how well a cache hides it.
    if s.wants("scale") {
        let (scale_server, scale_base) = start_paylink(bin, db, 0, 0).await?;
        let small = s.large.min(1_000);
        let list_url = format!("{scale_base}/v1/payment_links?limit=10");
        let list = |key: String, url: String| {
            move |c: &reqwest::Client, _: u64| c.get(url.clone()).bearer_auth(&key)
        };
        let random_preview = |slugs: std::sync::Arc<Vec<String>>| {
            let base = scale_base.clone();
            move |c: &reqwest::Client, i: u64| {
                let pick =
                    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % slugs.len().max(1);
                let slug = slugs.get(pick).map_or("", String::as_str);
                c.get(format!("{base}/api/public/links/{slug}"))
            }
        };
        let mut slugs = seed::links(db, &key, small).await?;
        let few = std::sync::Arc::new(slugs.clone());
        let page_small = run(&client, 64, s, random_preview(few)).await;
        let list_small = run(&client, 64, s, list(key.clone(), list_url.clone())).await;
        slugs.extend(seed::links(db, &key, s.large - small).await?);
        let all = std::sync::Arc::new(slugs);
        let page_large = run(&client, 64, s, random_preview(all)).await;
        let list_large = run(&client, 64, s, list(key.clone(), list_url.clone())).await;
        let ratio = |a: &Measure, b: &Measure| format!("p99 × {:.2}", b.p99_ms / a.p99_ms);
        rows.push(Row {
            figure: format!("preview of a random link, {small} links, no cache"),
            ours: page_small.clone(),
            baseline: None,
            target: "",
        });
        rows.push(Row {
            figure: format!(
                "preview of a random link, {} links, no cache ({})",
                s.large,
                ratio(&page_small, &page_large)
            ),
            ours: page_large,
            baseline: None,
            target: "within 1.5×",
        });
        rows.push(Row {
            figure: format!("list links, {small} links"),
            ours: list_small.clone(),
            baseline: None,
            target: "",
        });
        rows.push(Row {
            figure: format!(
                "list links, {} links ({})",
                s.large,
                ratio(&list_small, &list_large)
            ),
            ours: list_large,
            baseline: None,
            target: "within 1.5×",
        });
        drop(scale_server);
    }

    // 5. The dashboard's home and links list, signed in, at two sizes (its own merchant).
    if s.wants("dashboard") {
        rows.extend(dashboard::figures(bin, db, &client, s).await?);
    }

    // 3b. A slow processor: 300 ms per call, 256 connections.
    let mut slow_rss = f64::NAN;
    if s.wants("slow") {
        let (slow, slow_base) = start_paylink(bin, db, 300, 1_000).await?;
        let slow_purchase = load::purchases(&client, &slow_base, &slug, 256, s).await;
        let expected = 256.0 / 0.3;
        rows.push(Row {
        figure: format!("checkout + pay, 300 ms processor (256 conns; connection-bound ≈ {expected:.0}/s for one call each)"),
        ours: slow_purchase,
        baseline: None,
        target: "bound by connections, not the pool",
    });
        slow_rss = rss_mib(slow.0.id());
        drop(slow);
    }

    // 6. Subscription renewals by `paylink worker` (its own merchant, see `renewals`).
    if s.wants("renewals") {
        rows.extend(renewals::figures(bin, db, &client, s).await?);
    }
    println!(
        "\nmemory: idle {idle:.1} MiB, after load {loaded:.1} MiB, after the slow-processor run {slow_rss:.1} MiB (targets ≤ 40 / ≤ 150)"
    );
    Ok(rows)
}

/// How long a change made through one instance takes to be seen by another: a link
/// deactivated and activated again through this one, 100 times, with the other's preview
/// asked every millisecond until it follows (the change feed; caches kept a minute).
async fn change_seen_elsewhere(
    bin: &std::path::Path,
    db: &str,
    client: &reqwest::Client,
    one: &str,
    key: &str,
) -> anyhow::Result<Row> {
    let (_other, other) = start_paylink(bin, db, 0, 60_000).await?;
    let link: Value = client
        .post(format!("{one}/v1/payment_links"))
        .bearer_auth(key)
        .json(&json!({"title": "Seen elsewhere", "amount": 500}))
        .send()
        .await?
        .json()
        .await?;
    let (id, slug) = (
        link["id"].as_str().unwrap_or_default(),
        link["slug"].as_str().unwrap_or_default(),
    );
    let mut lat = Vec::new();
    let mut errors = 0;
    for i in 0..100 {
        let (action, want) = if i % 2 == 0 {
            ("deactivate", 410)
        } else {
            ("activate", 200)
        };
        // The other instance has the link's current state cached before each change.
        let _ = client
            .get(format!("{other}/api/public/links/{slug}"))
            .send()
            .await?;
        client
            .post(format!("{one}/v1/payment_links/{id}/{action}"))
            .bearer_auth(key)
            .send()
            .await?;
        // From the moment the change is answered (made) to the other instance showing it.
        let started = Instant::now();
        loop {
            let r = client
                .get(format!("{other}/api/public/links/{slug}"))
                .send()
                .await?;
            if r.status().as_u16() == want {
                lat.push(started.elapsed());
                break;
            }
            if started.elapsed() > Duration::from_secs(5) {
                errors += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    lat.sort_unstable();
    let at = |q: f64| {
        let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
        lat.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Row {
        figure: "a change seen by the other instance (ms, 100 changes)".into(),
        ours: Measure {
            rps: f64::NAN,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            errors,
        },
        baseline: None,
        target: "p99 < 50 ms",
    })
}

/// Purchases through nginx to two instances, against one instance directly (the figure's
/// baseline): on two cores, the cost of the proxy and a second process, not scaling.
async fn two_instances(
    bin: &std::path::Path,
    db: &str,
    client: &reqwest::Client,
    one: &str,
    slug: &str,
    s: &Settings,
) -> anyhow::Result<Option<Row>> {
    let (_second, second) = start_paylink(bin, db, 0, 1_000).await?;
    let port = |base: &str| -> anyhow::Result<u16> {
        Ok(base.rsplit(':').next().unwrap_or_default().parse()?)
    };
    let front = free_port()?;
    let Some(_nginx) = nginx::start(front, port(one)?, port(&second)?)? else {
        eprintln!("nginx is not installed: no two-instance figure");
        return Ok(None);
    };
    let through = format!("http://127.0.0.1:{front}");
    wait_up(client, &format!("{through}/healthz")).await?;
    let loads = [
        load::purchase_load(client, one, slug, 64),
        load::purchase_load(client, &through, slug, 64),
    ];
    let [direct, proxied] = <[Measure; 2]>::try_from(in_turns(&loads, s, ROUNDS).await)
        .map_err(|_| anyhow::anyhow!("two loads, two measures"))?;
    Ok(Some(Row {
        figure: "checkout + pay via nginx, 2 instances vs 1 direct (64 conns)".into(),
        ours: proxied,
        baseline: Some(direct),
        target: "overhead on 2 cores, not scaling",
    }))
}
