//! A closed-loop load generator: `conns` workers, each sending its next request as soon as
//! the previous one answered, for a fixed time after a warm-up.

use std::future::Future;
use std::pin::Pin;
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

/// What one measurement saw: each successful request's latency, failures, for how long.
#[derive(Default)]
pub struct Sample {
    lat: Vec<Duration>,
    errors: u64,
    secs: Duration,
}

impl Sample {
    /// Adds another measurement of the same load.
    fn join(&mut self, other: Sample) {
        self.lat.extend(other.lat);
        self.errors += other.errors;
        self.secs += other.secs;
    }

    pub fn measure(mut self) -> Measure {
        let lat = &mut self.lat;
        lat.sort_unstable();
        let pick = |q: f64| {
            lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        Measure {
            rps: lat.len() as f64 / self.secs.as_secs_f64(),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
            errors: self.errors,
        }
    }
}

/// A load that can be run again: each call measures it once, as `Settings` say.
pub type Load =
    Box<dyn for<'a> Fn(&'a Settings) -> Pin<Box<dyn Future<Output = Sample> + Send + 'a>>>;

/// Measures `loads` in turns, `rounds` times over, each turn a `rounds`-th of the time (the
/// first turn of each after the whole warm-up, later ones after a tenth of it). A figure
/// and its baseline are compared across the same stretch of the run: on a machine whose
/// speed drifts (a shared virtual machine), measuring one for ten seconds and then the
/// other put the drift into their ratio.
pub async fn in_turns(loads: &[Load], s: &Settings, rounds: u32) -> Vec<Measure> {
    let mut samples: Vec<Sample> = loads.iter().map(|_| Sample::default()).collect();
    for round in 0..rounds.max(1) {
        let turn = Settings {
            only: Vec::new(),
            secs: s.secs / rounds.max(1),
            warmup: if round == 0 { s.warmup } else { s.warmup / 10 },
            large: s.large,
            renewals: s.renewals,
            turn: round,
        };
        for (load, sample) in loads.iter().zip(samples.iter_mut()) {
            sample.join(load(&turn).await);
        }
    }
    samples.into_iter().map(Sample::measure).collect()
}

pub fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

/// Runs `one` in a closed loop; each call returns whether the request succeeded.
async fn closed_loop<F, Fut>(conns: usize, s: &Settings, one: F) -> Sample
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let turn = u64::from(s.turn) << 48;
    let start = Instant::now();
    let (warm_end, end) = (start + s.warmup, start + s.warmup + s.secs);
    let mut tasks = Vec::with_capacity(conns);
    for w in 0..conns {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                let ok = one(w, turn | (w as u64) << 32 | i).await;
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
    Sample {
        lat,
        errors,
        secs: s.secs,
    }
}

/// One kind of request, as a [`Load`].
pub fn requests<F>(client: &reqwest::Client, conns: usize, make: F) -> Load
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let (client, make) = (client.clone(), Arc::new(make));
    Box::new(move |s| {
        let (client, make) = (client.clone(), make.clone());
        Box::pin(closed_loop(conns, s, move |_, i| {
            let req = make(&client, i);
            async move {
                match req.send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        }))
    })
}

/// Measures one kind of request.
pub async fn run<F>(client: &reqwest::Client, conns: usize, s: &Settings, make: F) -> Measure
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    requests(client, conns, make)(s).await.measure()
}

/// A whole purchase per iteration: start a checkout, pay it with 4242…. Latency is the pair.
pub fn purchase_load(client: &reqwest::Client, base: &str, slug: &str, conns: usize) -> Load {
    let (client, base, slug) = (client.clone(), base.to_owned(), slug.to_owned());
    Box::new(move |s| {
        let (client, base, slug) = (client.clone(), base.clone(), slug.clone());
        Box::pin(closed_loop(conns, s, move |_, i| {
            let (client, base, slug) = (client.clone(), base.clone(), slug.clone());
            async move {
                let Ok(r) = client
                    .post(format!("{base}/api/public/links/{slug}/checkout"))
                    .json(&json!({"email": format!("b{i}@example.com")}))
                    .send()
                    .await
                else {
                    return false;
                };
                let Ok(session) = r.json::<Value>().await else {
                    return false;
                };
                let Some(id) = session["id"].as_str() else {
                    return false;
                };
                let pay = json!({"client_secret": session["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}});
                matches!(client.post(format!("{base}/api/public/checkout_sessions/{id}/pay")).json(&pay).send().await, Ok(r) if r.status().is_success())
            }
        }))
    })
}

/// Measures whole purchases (see [`purchase_load`]).
pub async fn purchases(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    conns: usize,
    s: &Settings,
) -> Measure {
    purchase_load(client, base, slug, conns)(s).await.measure()
}
