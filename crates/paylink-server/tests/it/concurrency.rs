//! Never oversold: many customers at once against payment limits and shared stock.
//!
//! Each run starts N customers at once (each starts a checkout and pays it with 4242…),
//! with a seeded random delay before each, so every run interleaves differently. Runs per
//! case: `PAYLINK_CONCURRENCY_RUNS` (default 3).

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

const N: usize = 50;

fn runs() -> u64 {
    std::env::var("PAYLINK_CONCURRENCY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Starts `N` buyers at once over `slugs`; returns how many paid.
async fn stampede(app: &TestApp, slugs: &[String], seed: u64) -> usize {
    buyers(app, slugs, seed, Duration::ZERO)
        .await
        .iter()
        .flatten()
        .count()
}

/// Starts `N` buyers at once over `slugs`; returns, for each buyer who paid, when their
/// checkout was sent.
async fn buyers(
    app: &TestApp,
    slugs: &[String],
    seed: u64,
    after: Duration,
) -> Vec<Option<Instant>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tasks = Vec::new();
    for i in 0..N {
        let delay = after + Duration::from_micros(rng.random_range(0..3000));
        let slug = slugs[rng.random_range(0..slugs.len())].clone();
        let (client, base) = (app.client.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let sent = Instant::now();
            let s = client
                .post(format!("{base}/api/public/links/{slug}/checkout"))
                .json(&json!({"email": format!("buyer{i}@example.com")}))
                .send()
                .await
                .unwrap();
            let status = s.status().as_u16();
            let body: serde_json::Value = s.json().await.unwrap();
            if status != 201 {
                assert!(matches!(status, 409 | 410), "unexpected {status}: {body}");
                return None;
            }
            let pay = json!({"client_secret": body["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}});
            let r = client
                .post(format!("{base}/api/public/checkout_sessions/{}/pay", body["id"].as_str().unwrap()))
                .json(&pay)
                .send()
                .await
                .unwrap();
            let ok = r.status() == 200;
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(ok && v["status"] == "succeeded", "a held checkout failed to pay: {v}");
            Some(sent)
        }));
    }
    let mut paid = Vec::new();
    for t in tasks {
        paid.push(t.await.unwrap());
    }
    paid
}

both!(
    payments_limit_is_never_exceeded,
    a_limit_set_mid_stampede_holds,
    shared_stock_is_never_oversold,
    an_order_is_paid_once_across_its_links
);

/// Two links of one order (a merchant resent it), 50 customers split between them: the
/// order is the guard, so exactly one payment is taken, whichever link it came through.
async fn an_order_is_paid_once_across_its_links(app: TestApp) {
    for run in 0..runs() {
        let o = app
            .create(
                "/v1/orders",
                json!({"line_items": [{"name": format!("Invoice {run}"), "unit_amount": 4200}]}),
            )
            .await;
        let mut slugs = Vec::new();
        for _ in 0..2 {
            let l = app
                .create(
                    "/v1/payment_links",
                    json!({"title": "Your invoice", "order_id": o["id"]}),
                )
                .await;
            slugs.push(l["slug"].as_str().unwrap().to_owned());
        }
        let paid = stampede(&app, &slugs, 7000 + run).await;
        let order = app
            .get(&format!("/v1/orders/{}", o["id"].as_str().unwrap()))
            .await;
        let succeeded = app.get("/v1/payments?limit=100").await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["order_id"] == o["id"] && p["status"] == "succeeded")
            .count();
        assert_eq!(
            (paid, succeeded, order.body["status"].as_str()),
            (1, 1, Some("paid")),
            "run {run}"
        );
        // Both links now refuse, in the JSON and on the page.
        for slug in &slugs {
            app.assert_gone(slug, "order_paid", "already been paid")
                .await;
        }
    }
}

async fn payments_limit_is_never_exceeded(app: TestApp) {
    let mut oversold = 0;
    let mut total_runs = 0;
    let mut receipts = Vec::new();
    for k in [1usize, 3, 10] {
        for run in 0..runs() {
            let l = app.create("/v1/payment_links", json!({"title": format!("Limited {k}/{run}"), "amount": 1000, "payments_limit": k})).await;
            let slug = l["slug"].as_str().unwrap().to_owned();
            let paid = stampede(&app, &[slug], 1000 * k as u64 + run).await;
            let after = app
                .get(&format!("/v1/payment_links/{}", l["id"].as_str().unwrap()))
                .await;
            let count = after.body["payments_count"].as_u64().unwrap() as usize;
            oversold += count.saturating_sub(k);
            assert_eq!(
                (paid, count),
                (k, k),
                "K={k} run {run}: {paid} paid, {count} recorded"
            );
            assert_eq!(after.body["status"], "paid");
            let listed = app
                .get(&format!(
                    "/v1/payment_links/{}/payments?limit=100",
                    l["id"].as_str().unwrap()
                ))
                .await;
            assert_eq!(listed.body["data"].as_array().unwrap().len(), k);
            for p in listed.body["data"].as_array().unwrap() {
                receipts.push(p["receipt_number"].as_str().unwrap().to_owned());
            }
            total_runs += 1;
        }
    }
    // Receipt numbers, taken by payments racing each other, are never given twice.
    let distinct: std::collections::BTreeSet<_> = receipts.iter().collect();
    assert_eq!(
        distinct.len(),
        receipts.len(),
        "a receipt number was reused"
    );
    eprintln!(
        "concurrency[{:?}]: {total_runs} runs × N={N} × K∈{{1,3,10}}: oversold {oversold}",
        app.backend
    );
    assert_eq!(oversold, 0);
}

/// A link without a limit counts its purchases apart from its row; a limit set while
/// customers are paying must still hold for everyone who comes after it. The limit is
/// set only while paid and held checkouts fit in it (otherwise `409
/// payments_limit_below_reserved`), so payments never exceed it.
///
/// Customers keep coming after the PATCH has returned (another N of them), so a run whose
/// limit was set always has customers the limit must stop: it is reached and stops them.
/// The PATCH may also come too late (more than K paid already) or lose its races; runs go
/// on past `runs()` until one has set the limit, and the test fails if none did.
async fn a_limit_set_mid_stampede_holds(app: TestApp) {
    const K: usize = 10;
    /// Runs past `runs()`, only while the limit has not yet been set in any.
    const EXTRA_RUNS: u64 = 10;
    let mut limited_runs = 0;
    let mut limited = Vec::new();
    let (mut too_late, mut lost_races) = (0, 0);
    let mut run = 0;
    while run < runs() || (limited_runs == 0 && run < runs() + EXTRA_RUNS) {
        let l = app
            .create(
                "/v1/payment_links",
                json!({"title": format!("Opened {run}"), "amount": 1000}),
            )
            .await;
        let id = l["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/payment_links/{id}");
        let slug = l["slug"].as_str().unwrap().to_owned();
        let slugs = std::slice::from_ref(&slug);
        // Buyers arrive over 3 ms, and a limit is refused once more than K of them hold or
        // have paid. Runs past `runs()` send the limit at once and hold the buyers back a
        // millisecond more each time, so one sets it while they are still coming.
        let (delay, head_start) = if run < runs() {
            let micros = rand::rngs::StdRng::seed_from_u64(run).random_range(0..4000);
            (Duration::from_micros(micros), Duration::ZERO)
        } else {
            (Duration::ZERO, Duration::from_millis(run - runs() + 1))
        };
        let limit = async {
            tokio::time::sleep(delay).await;
            let (r, at) = set_limit(&app, &path, K).await;
            // Customers who come after the limit, while the stampede may still be running.
            let late = if r.status == 200 {
                buyers(&app, slugs, 900 + run, Duration::ZERO).await
            } else {
                Vec::new()
            };
            (r, at, late)
        };
        let (early, (patched, patched_at, late)) =
            tokio::join!(buyers(&app, slugs, 500 + run, head_start), limit);
        let count = early.iter().chain(&late).flatten().count();
        let before = early
            .iter()
            .flatten()
            .filter(|sent| **sent < patched_at)
            .count();
        let late_paid = late.iter().flatten().count();
        let after = app.get(&path).await;
        assert_eq!(
            after.ok(200)["payments_count"].as_u64(),
            Some(count as u64),
            "run {run}"
        );
        let listed = app.get(&format!("{path}/payments?limit=100")).await;
        assert_eq!(
            listed.ok(200)["data"].as_array().unwrap().len(),
            count,
            "run {run}"
        );
        match patched.status.as_u16() {
            200 => {
                limited_runs += 1;
                limited.push((before, count));
                // A limit is set only while paid and held checkouts fit in it, so even
                // those sent before it never take the count past it.
                assert!(
                    count <= K,
                    "run {run}: {count} paid, limit {K}, {before} sent before the limit"
                );
                // N customers came after the limit: it was reached, and it stopped them.
                assert!(
                    count >= K && late_paid <= K,
                    "run {run}: {count} paid, {late_paid} of {N} sent after the limit {K}"
                );
                assert_eq!(
                    after.body["status"].as_str(),
                    Some("paid"),
                    "run {run}: {count} paid"
                );
            }
            // The limit came too late: more than K paid already, or paid and held.
            422 => {
                patched.assert_error(422, "payments_limit_below_count");
                too_late += 1;
            }
            409 if patched.body["error"]["code"] == "payments_limit_below_reserved" => {
                too_late += 1;
            }
            // It lost its races every time it was tried.
            _ => {
                patched.assert_error(409, "concurrent_update");
                lost_races += 1;
            }
        }
        run += 1;
    }
    eprintln!(
        "concurrency[{:?}]: {run} runs × N={N} (+N after the limit), limit {K} set mid-run \
         ({limited_runs} took effect, {too_late} too late, {lost_races} lost their races; \
         (paid buyers sent before it, paid in all): {limited:?})",
        app.backend,
    );
    assert!(
        limited_runs > 0,
        "the limit was never set in {run} runs: it always came too late or lost its races"
    );
}

/// Sets a link's payments limit as a merchant would: again while the answer is
/// `409 concurrent_update` (purchases kept changing the link), a few times. Returns the
/// last answer and when it came.
async fn set_limit(app: &TestApp, path: &str, k: usize) -> (crate::helpers::Resp, Instant) {
    let mut tries = 0;
    loop {
        let r = app.patch(path, json!({"payments_limit": k})).await;
        tries += 1;
        if r.status != 409 || r.body["error"]["code"] != "concurrent_update" || tries == 5 {
            return (r, Instant::now());
        }
    }
}

async fn shared_stock_is_never_oversold(app: TestApp) {
    const STOCK: usize = 7;
    for run in 0..runs() {
        let p = app.create("/v1/products", json!({"name": format!("Limited edition {run}"), "unit_amount": 500, "inventory": {"available": STOCK}})).await;
        let mut slugs = Vec::new();
        for i in 0..3 {
            let l = app.create("/v1/payment_links", json!({"title": format!("Edition shop {i}"), "line_items": [{"product_id": p["id"]}]})).await;
            slugs.push(l["slug"].as_str().unwrap().to_owned());
        }
        let paid = stampede(&app, &slugs, 77 + run).await;
        let after = app
            .get(&format!("/v1/products/{}", p["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            (paid, after.body["inventory"]["available"].as_u64()),
            (STOCK, Some(0)),
            "run {run}"
        );
        let (held,): (i64,) = sqlx::query_as("SELECT inventory_held FROM products WHERE id = $1")
            .bind(p["id"].as_str().unwrap())
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(held, 0);
    }
    eprintln!(
        "concurrency[{:?}]: {} runs × N={N} over 3 links × stock {STOCK}: oversold 0",
        app.backend,
        runs()
    );
}
