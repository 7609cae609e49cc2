//! Delivering webhook events: at least once, signed, on a retry schedule.
//!
//! Jobs come from the outbox (one per event and endpoint, written with the change) and are
//! claimed so that several workers never deliver the same attempt at once. Every attempt
//! carries the same `webhook-id` (the event id), a fresh timestamp and signature. Only a 2xx
//! answer is success; redirects are not followed; the connection goes to the address the
//! SSRF guard checked. After the schedule is spent the delivery fails; an endpoint failing
//! for longer than `webhook_disable_after_secs` is disabled with an event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use paylink_domain::time::Timestamp;
use paylink_store::{DeliveryAttempt, DeliveryJob, DeliveryNext, Store};

use super::sign;
use super::ssrf::Guard;
use crate::config::Config;

/// The contract's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 3600);

pub struct Deliverer {
    store: Arc<dyn Store>,
    guard: Guard,
    schedule: Vec<Duration>,
    timeout: Duration,
    disable_after_secs: i64,
    /// Opens the endpoints' secrets, kept sealed at rest.
    sealer: Arc<crate::secrets::Sealer>,
}

/// Parses `5s,5m,30m` (also `ms`, `h`, `d`).
pub fn parse_schedule(s: &str) -> anyhow::Result<Vec<Duration>> {
    s.split(',')
        .map(str::trim)
        .map(|d| {
            let (n, unit) = d
                .find(|c: char| !c.is_ascii_digit())
                .map(|i| d.split_at(i))
                .ok_or_else(|| anyhow::anyhow!("`{d}` needs a unit"))?;
            let n: u64 = n
                .parse()
                .map_err(|_| anyhow::anyhow!("`{d}` is not a duration"))?;
            let ms = match unit {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => anyhow::bail!("`{d}`: unit must be ms, s, m, h or d"),
            };
            Ok(Duration::from_millis(n.saturating_mul(ms)))
        })
        .collect()
}

/// `d` ± 20 %.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.8..=1.2))
}

impl Deliverer {
    pub fn from_config(store: Arc<dyn Store>, config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            guard: Guard::from_config(config.webhook_allow_networks.as_deref())?,
            schedule: parse_schedule(
                config
                    .webhook_retry_schedule
                    .as_deref()
                    .unwrap_or(DEFAULT_SCHEDULE),
            )?,
            timeout: Duration::from_millis(config.webhook_timeout_ms),
            disable_after_secs: config.webhook_disable_after_secs,
            sealer: Arc::new(config.sealer()?),
        })
    }

    /// Claims and delivers one batch; returns how many were attempted.
    pub async fn run_once(&self) -> usize {
        // A claim outlives one attempt with room to spare, and no more: after a crash the
        // next worker takes the delivery over once the claim lapses.
        let lock_secs =
            i64::try_from(self.timeout.as_millis().div_ceil(1000)).unwrap_or(15) * 2 + 5;

        let jobs = match self
            .store
            .claim_deliveries(Timestamp::now(), 32, lock_secs)
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                return 0;
            }
        };
        let n = jobs.len();
        let mut tasks = tokio::task::JoinSet::new();
        for job in jobs {
            let this = self.clone_handle();
            tasks.spawn(async move { this.deliver(job).await });
        }
        while tasks.join_next().await.is_some() {}
        n
    }

    fn clone_handle(&self) -> Arc<Deliverer> {
        Arc::new(Deliverer {
            store: self.store.clone(),
            guard: self.guard.clone(),
            schedule: self.schedule.clone(),
            timeout: self.timeout,
            disable_after_secs: self.disable_after_secs,
            sealer: self.sealer.clone(),
        })
    }

    async fn deliver(&self, job: DeliveryJob) {
        let started = Instant::now();
        let attempted_at = Timestamp::now();
        let result = self.send(&job).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error, retry_after) = match &result {
            Ok((code, retry_after)) => (Some(*code), None, *retry_after),
            Err(e) => (None, Some(e.clone()), None),
        };
        let success = status_code.is_some_and(|c| (200..300).contains(&c));
        let made = usize::try_from(job.attempts).unwrap_or(0) + 1;
        let next = if success {
            DeliveryNext::Succeeded
        } else {
            match self.schedule.get(made - 1) {
                None => DeliveryNext::Failed,
                Some(d) => {
                    let mut delay = jitter(*d);
                    if let Some(r) = retry_after {
                        delay = delay.max(r.min(MAX_RETRY_AFTER));
                    }
                    // From the answer (a `Retry-After` counts from there, not from when the
                    // attempt began), rounded up to the whole second timestamps keep, so
                    // the wait is never cut short.
                    let answered = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    let due = (answered + delay).as_millis().div_ceil(1000);
                    DeliveryNext::RetryAt(Timestamp::from_unix(
                        i64::try_from(due).unwrap_or(i64::MAX),
                    ))
                }
            }
        };
        let disable = !success
            && job
                .failing_since
                .is_some_and(|f| attempted_at.unix() - f.unix() >= self.disable_after_secs);
        tracing::info!(event.id = %job.event_id, endpoint.id = %job.endpoint_id, attempt = made, status = ?status_code, success, "webhook attempt");
        let attempt = DeliveryAttempt {
            event_id: job.event_id.clone(),
            attempted_at,
            status_code,
            latency_ms,
            error,
        };
        if let Err(e) = self
            .store
            .finish_delivery(&job, &attempt, next, disable)
            .await
        {
            // The claim lapses and the delivery is tried again: at least once.
            tracing::warn!(error = %e, "recording a webhook attempt failed");
        }
    }

    /// One HTTP attempt: the status and any `Retry-After`, or why it did not happen.
    async fn send(&self, job: &DeliveryJob) -> Result<(u16, Option<Duration>), String> {
        let url = Guard::parse(&job.url).map_err(|e| e.to_string())?;
        let addr = self.guard.resolve(&url).await.map_err(|e| e.to_string())?;
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout);
        if let Some(host) = url.domain() {
            // Connect to the address that was checked, not to a second lookup's answer.
            client = client.resolve(host, addr);
        }
        let client = client.build().map_err(|e| e.to_string())?;
        let ts = Timestamp::now().unix();
        let secrets = job
            .secrets
            .iter()
            .map(|s| open_secret(&self.sealer, s, &job.endpoint_id))
            .collect::<Result<Vec<String>, String>>()?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = sign::header(&secrets, &job.event_id, ts, job.body.as_bytes());
        let res = client
            .post(url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("Paylink-Webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", &job.event_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(job.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    "connection failed".to_owned()
                }
            })?;
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok((res.status().as_u16(), retry_after))
    }
}

/// An endpoint's secret as stored: sealed, or (written before secrets were sealed) plain.
fn open_secret(
    sealer: &crate::secrets::Sealer,
    stored: &str,
    endpoint_id: &str,
) -> Result<String, String> {
    if crate::secrets::Sealer::is_sealed(stored) {
        sealer
            .open(stored, endpoint_id)
            .map_err(|e| format!("the endpoint's signing secret: {e}"))
    } else {
        Ok(stored.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        let s = parse_schedule(DEFAULT_SCHEDULE).unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[1], Duration::from_secs(300));
        assert_eq!(
            parse_schedule("50ms,1s").unwrap(),
            vec![Duration::from_millis(50), Duration::from_secs(1)]
        );
        assert!(parse_schedule("5").is_err() && parse_schedule("5y").is_err());
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(100));
            assert!(j >= Duration::from_secs(80) && j <= Duration::from_secs(120));
        }
    }
}
