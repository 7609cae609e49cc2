//! Subscription renewals: how many due subscriptions the worker renews per second.
//!
//! One subscription is made for real (a monthly link, a checkout paid with 4242…), then
//! `Settings::renewals` copies of it are written straight through the store
//! (`SubscriptionStore::insert_subscription`), each checked out 40 days ago so that its
//! period 1 is due now, each with the saved card of the real one (the simulated
//! processor charges a saved card by what its reference says). Then the real `paylink
//! worker` is started with a 100 ms tick and the simulated processor's latency, and the
//! clock runs from its start until every copy has its renewal payment. p50 and p99 are
//! how long half and 99 % of them waited (all were due when the worker started).
//!
//! The run is then checked: one succeeded payment per subscription, none due any more,
//! and the processor's own ledger (`simulated_processor_ledger`) holding exactly one
//! charge per subscription under its period-1 key.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::any::AnyPoolOptions;

use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{MerchantId, SubscriptionId};
use paylink_domain::link::SubscriptionTerms;
use paylink_domain::subscription::{Subscription, SubscriptionState};
use paylink_domain::time::Timestamp;
use paylink_store::{NewSubscription, SubscriptionStore, Tenant};
use paylink_store_sql::{ConnectOptions, SqlStore};

use crate::load::Measure;
use crate::{merchant_key, start_paylink, Proc, Row, Settings};

/// What a worker renews at once (`paylink_server::subscriptions::CONCURRENCY`): with a
/// slow processor each batch waits for its slowest charge.
const WORKER_CONCURRENCY: f64 = 64.0;

/// The real subscription the seeded ones copy, with whose they are.
struct Template {
    tenant: Tenant,
    subscription: Subscription,
    method_ref: String,
}

pub async fn figures(
    bin: &std::path::Path,
    db: &str,
    client: &reqwest::Client,
    s: &Settings,
) -> anyhow::Result<Vec<Row>> {
    let template = real_subscription(bin, db, client).await?;
    let mut rows = Vec::new();
    for latency_ms in [0, 300] {
        rows.push(run(bin, db, &template, s.renewals, latency_ms).await?);
    }
    Ok(rows)
}

/// A merchant with a monthly link and one subscription made through its checkout.
async fn real_subscription(
    bin: &std::path::Path,
    db: &str,
    client: &reqwest::Client,
) -> anyhow::Result<Template> {
    let key = merchant_key(bin, db, "Bench renewals")?;
    // Its worker is stopped before anything is seeded: only `paylink worker` renews.
    let (server, base) = start_paylink(bin, db, 0, 1_000).await?;
    let link: Value = client
        .post(format!("{base}/v1/payment_links"))
        .bearer_auth(&key)
        .json(&json!({"title": "Bench box", "amount": 1900,
                      "subscription": {"interval": "month"}}))
        .send()
        .await?
        .json()
        .await?;
    let slug = link["slug"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no monthly link: {link}"))?;
    let session: Value = client
        .post(format!("{base}/api/public/links/{slug}/checkout"))
        .json(&json!({"email": "subscriber@example.com"}))
        .send()
        .await?
        .json()
        .await?;
    let id = session["id"].as_str().unwrap_or_default();
    let pay = json!({"client_secret": session["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}});
    let paid: Value = client
        .post(format!("{base}/api/public/checkout_sessions/{id}/pay"))
        .json(&pay)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(paid["status"] == "succeeded", "subscribing failed: {paid}");
    let list: Value = client
        .get(format!("{base}/v1/subscriptions"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let sub_id = list["data"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no subscription after the checkout: {list}"))?
        .to_owned();
    drop(server);
    let tenant = tenant_of_sub(db, &sub_id).await?;
    let store = open_store(db).await?;
    let record = store
        .get_subscription(&tenant, &SubscriptionId::from_trusted(sub_id))
        .await?;
    store.close().await;
    let method_ref = record
        .method_ref
        .ok_or_else(|| anyhow::anyhow!("the real subscription kept no saved card"))?;
    Ok(Template {
        tenant,
        subscription: record.subscription,
        method_ref,
    })
}

/// The tenant of a subscription, read from its row.
async fn tenant_of_sub(db: &str, id: &str) -> anyhow::Result<Tenant> {
    let pool = pool(db).await?;
    let (merchant, livemode): (String, i64) =
        sqlx::query_as("SELECT merchant_id, livemode FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await?;
    pool.close().await;
    Ok(Tenant::stored(
        MerchantId::from_trusted(merchant),
        livemode != 0,
    ))
}

async fn open_store(db: &str) -> anyhow::Result<SqlStore> {
    Ok(SqlStore::connect(db, &ConnectOptions::default()).await?)
}

async fn pool(db: &str) -> anyhow::Result<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("sqlite:") && !db.contains("mode=") {
        format!("{db}?mode=rwc")
    } else {
        db.to_owned()
    };
    Ok(AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?)
}

/// Writes `n` copies of the template, each checked out 40 days ago on a monthly plan (its
/// period 1 due now), through the store, 16 at a time. Returns their ids.
async fn seed(db: &str, t: &Template, n: usize) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let store = Arc::new(open_store(db).await?);
    let terms = SubscriptionTerms {
        interval: t.subscription.interval,
        interval_count: t.subscription.interval_count,
        trial_period_days: 0,
    };
    let now = Timestamp::now();
    let at = now.plus_seconds(-40 * 86_400);
    let transition = SubscriptionState::checkout(&terms, at)
        .map_err(|r| anyhow::anyhow!("checkout refused: {}", r.as_str()))?;
    anyhow::ensure!(
        transition.state.next_due_at().is_some_and(|d| d <= now),
        "a subscription checked out 40 days ago is not due"
    );
    let template = Arc::new((t.tenant.clone(), t.subscription.clone(), transition));
    let method_ref: Arc<str> = Arc::from(t.method_ref.as_str());
    let tasks = 16;
    let mut set = tokio::task::JoinSet::new();
    for k in 0..tasks {
        let (store, template, method_ref) = (store.clone(), template.clone(), method_ref.clone());
        let count = n / tasks + usize::from(k < n % tasks);
        set.spawn(async move {
            let (tenant, base, transition) = &*template;
            let mut ids = Vec::with_capacity(count);
            for _ in 0..count {
                let mut sub = base.clone();
                sub.id = SubscriptionId::generate();
                sub.created_at = at;
                sub.latest_payment_id = None;
                sub.show(&transition.state);
                let events: Vec<Event> = transition
                    .events
                    .iter()
                    .map(|e| Event::new(EventType::from(*e), &sub, tenant.livemode(), at))
                    .collect();
                store
                    .insert_subscription(
                        tenant,
                        &NewSubscription {
                            subscription: &sub,
                            state: &transition.state,
                            method_ref: Some(&method_ref),
                            events: &events,
                        },
                    )
                    .await?;
                ids.push(sub.id.to_string());
            }
            anyhow::Ok(ids)
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(done) = set.join_next().await {
        ids.extend(done??);
    }
    store.close().await;
    eprintln!(
        "  seeded {n} due subscriptions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// The merchant's renewal payments so far (the real subscription's first payment aside).
async fn renewals_so_far(pool: &sqlx::AnyPool, t: &Template) -> anyhow::Result<(i64, i64)> {
    let (all, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT subscription_id) FROM payments \
         WHERE merchant_id = $1 AND subscription_id IS NOT NULL AND subscription_id <> $2 \
         AND status = 'succeeded'",
    )
    .bind(t.tenant.merchant_id().to_string())
    .bind(t.subscription.id.to_string())
    .fetch_one(pool)
    .await?;
    Ok((all, distinct))
}

/// Payments of any subscription (what the progress poll reads: one count of a partial
/// index, cheap enough to ask every 50 ms beside the worker).
async fn subscription_payments(pool: &sqlx::AnyPool) -> anyhow::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM payments WHERE subscription_id IS NOT NULL")
            .fetch_one(pool)
            .await?;
    Ok(n)
}

/// Seeds `n` due subscriptions, runs `paylink worker` until all are renewed, checks the
/// outcome; one row.
async fn run(
    bin: &std::path::Path,
    db: &str,
    t: &Template,
    n: usize,
    latency_ms: u64,
) -> anyhow::Result<Row> {
    let ids = seed(db, t, n).await?;
    let pool = pool(db).await?;
    let (before, before_distinct) = renewals_so_far(&pool, t).await?;
    let progress_before = subscription_payments(&pool).await?;
    let dir = std::env::temp_dir().join(format!("paylink-bench-renewals-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ledger = dir.join(format!("ledger-{latency_ms}ms-{}.tsv", ids.len()));
    let _ = std::fs::remove_file(&ledger);
    let log = dir.join(format!("worker-{latency_ms}ms.log"));
    let target = i64::try_from(n)?;

    let started = Instant::now();
    let worker = Proc(
        Command::new(bin)
            .args(["worker", "--database-url", db])
            .env("PAYLINK_PUBLIC_URL", "http://127.0.0.1:9")
            .env(
                "PAYLINK_DATA_DIR",
                std::env::temp_dir().join("paylink-bench-data"),
            )
            .env("PAYLINK_LOG", "warn")
            .env("PAYLINK_WORKER_TICK_MS", "100")
            .env("PAYLINK_DB_MAX_CONNECTIONS", "16")
            .env(
                "PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS",
                latency_ms.to_string(),
            )
            .env("PAYLINK_SIMULATED_PROCESSOR_LEDGER", &ledger)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?,
    );
    // Generous: a tenth of the slowest rate worth reporting.
    let deadline = Duration::from_secs(30 + n as u64 / 20);
    let mut samples: Vec<(Duration, i64)> = Vec::new();
    let done = loop {
        let made = subscription_payments(&pool).await? - progress_before;
        let at = started.elapsed();
        samples.push((at, made));
        if made >= target {
            break Some(at);
        }
        if at > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(worker);
    let (all, distinct) = renewals_so_far(&pool, t).await?;
    let (payments, renewed) = (all - before, distinct - before_distinct);
    let now = Timestamp::now().unix();
    let (still_due,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM subscriptions WHERE merchant_id = $1 AND id <> $2 \
         AND (next_due_at IS NULL OR next_due_at <= $3 OR status <> 'active')",
    )
    .bind(t.tenant.merchant_id().to_string())
    .bind(t.subscription.id.to_string())
    .bind(now)
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    let (charges, keys, strays) = ledger_counts(&ledger, &ids)?;
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let logged: Vec<&str> = logged.lines().filter(|l| !l.trim().is_empty()).collect();
    let warnings = logged.len();
    for line in logged.iter().take(3) {
        eprintln!("  worker: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let n_i = target;
    let wrong = (payments - n_i).unsigned_abs()
        + (renewed - n_i).unsigned_abs()
        + (charges - n_i).unsigned_abs()
        + (keys - n_i).unsigned_abs()
        + strays.unsigned_abs()
        + still_due.unsigned_abs();
    let reached = |q: f64| {
        let want = (n as f64 * q).ceil() as i64;
        samples
            .iter()
            .find(|(_, c)| *c >= want)
            .map_or(f64::NAN, |(d, _)| d.as_secs_f64() * 1000.0)
    };
    let secs = done.map_or(f64::NAN, |d| d.as_secs_f64());
    eprintln!(
        "  renewals, {latency_ms} ms processor: {n} due, {} in {secs:.1} s; \
         {payments} payments for {renewed} subscriptions, {charges} processor charges \
         under {keys} keys ({strays} not ours), {still_due} not renewed, \
         {warnings} worker log lines",
        if done.is_some() {
            "all renewed"
        } else {
            "NOT all renewed"
        },
    );
    let (bound, target) = match latency_ms {
        0 => (String::new(), "≥ 200/s, each renewed and charged once"),
        ms => {
            let batches = (n as f64 / WORKER_CONCURRENCY).ceil();
            let bound = n as f64 / (batches * ms as f64 / 1000.0);
            (
                format!("; 64 at a time bound it to ≈ {bound:.0}/s"),
                "near the bound, each renewed and charged once",
            )
        }
    };
    Ok(Row {
        figure: format!(
            "renewals/s: {n} due subscriptions, {latency_ms} ms processor, `paylink worker`{bound} \
             (p50/p99: wait until renewed; errors: wrong counts)"
        ),
        ours: Measure {
            rps: n as f64 / secs,
            p50_ms: reached(0.50),
            p99_ms: reached(0.99),
            errors: wrong,
        },
        baseline: None,
        target,
    })
}

/// The processor's ledger: charges (lines), distinct keys, and lines that are not the
/// period-1 charge of one of `ids`.
fn ledger_counts(path: &std::path::Path, ids: &[String]) -> anyhow::Result<(i64, i64, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ours: HashSet<String> = ids.iter().map(|id| format!("{id}:p1:a0")).collect();
    let mut keys = HashSet::new();
    let (mut lines, mut strays) = (0i64, 0i64);
    for line in text.lines() {
        let key = line.split('\t').next().unwrap_or_default();
        let succeeded = line.split('\t').nth(1) == Some("succeeded");
        lines += 1;
        if !ours.contains(key) || !succeeded {
            strays += 1;
        }
        keys.insert(key.to_owned());
    }
    Ok((lines, i64::try_from(keys.len())?, strays))
}
