//! A closed-loop load generator: `conns` workers, each sending its next request as soon as
//! the previous one answered, for a fixed time after a warm-up.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::Settings;

#[derive(Clone, Debug)]
pub struct Measure {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

fn measure(mut lat: Vec<Duration>, errors: u64, secs: Duration) -> Measure {
    lat.sort_unstable();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Measure {
        rps: lat.len() as f64 / secs.as_secs_f64(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        errors,
    }
}

/// Runs `one` in a closed loop; each call returns whether the request succeeded.
async fn closed_loop<F, Fut>(conns: usize, s: &Settings, one: F) -> Measure
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let start = Instant::now();
    let (warm_end, end) = (start + s.warmup, start + s.warmup + s.secs);
    let mut tasks = Vec::with_capacity(conns);
    for w in 0..conns {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                let ok = one(w, (w as u64) << 32 | i).await;
                i += 1;
                if t >= warm_end {
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    if errors > 0 {
        eprintln!("  ({errors} failed requests)");
    }
    measure(lat, errors, s.secs)
}

/// Measures one kind of request.
pub async fn run<F>(client: &reqwest::Client, conns: usize, s: &Settings, make: F) -> Measure
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = client.clone();
    closed_loop(conns, s, move |_, i| {
        let req = make(&client, i);
        async move {
            match req.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// A whole purchase per iteration: start a checkout, pay it with 4242…. Latency is the pair.
pub async fn purchases(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    conns: usize,
    s: &Settings,
) -> Measure {
    let (client, base, slug) = (client.clone(), base.to_owned(), slug.to_owned());
    closed_loop(conns, s, move |_, i| {
        let (client, base, slug) = (client.clone(), base.clone(), slug.clone());
        async move {
            let Ok(r) = client.post(format!("{base}/api/public/links/{slug}/checkout")).json(&json!({"email": format!("b{i}@example.com")})).send().await else {
                return false;
            };
            let Ok(session) = r.json::<Value>().await else { return false };
            let Some(id) = session["id"].as_str() else { return false };
            let pay = json!({"client_secret": session["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}});
            matches!(client.post(format!("{base}/api/public/checkout_sessions/{id}/pay")).json(&pay).send().await, Ok(r) if r.status().is_success())
        }
    })
    .await
}
