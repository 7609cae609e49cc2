//! Sign-in attempts per e-mail address and per client address (IPv6 by /64), counted in
//! Redis when `redis_url` is set (every instance sees every attempt), else (and whenever
//! Redis cannot be reached) in this process's memory, answered `429 too_many_attempts` with `Retry-After` until the window ends,
//! before any password is checked:
//! - 10 failures of an address from one client within 15 minutes;
//! - 100 failures of an address from anywhere within 15 minutes (guessing spread over many
//!   clients; someone who wants a person locked out needs that many, not ten);
//! - `auth_failures_per_minute` failures of a client within a minute.
//!
//! An attempt counts as a failure from the moment it is checked, so a burst sent at once
//! gets no more tries than the same requests one by one; a success takes the address's
//! failures back (not the client's). Password-reset requests count apart (5 an hour an
//! address), so asking for resets never locks anyone out of signing in. An unknown address
//! is counted exactly like a known one.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::shared_limits::{SharedLimits, Verdict};

/// How many failures a key may have within `window`.
struct Window<K> {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more against `key`, unless it has spent its failures already: then how
    /// long it must still wait. One lock for both, so two callers never both take the last.
    fn take(&self, key: K, now: Instant) -> Option<Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 100_000 {
            let window = self.window;
            entries.retain(|_, (_, since)| now < *since + window);
        }
        let entry = entries.entry(key).or_insert((0, now));
        if now >= entry.1 + self.window {
            *entry = (0, now);
        }
        if entry.0 >= self.limit {
            return Some(entry.1 + self.window - now);
        }
        entry.0 += 1;
        None
    }

    /// Takes back one count of `key` (an attempt that turned out right).
    fn give_back(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    fn clear(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

pub struct LoginThrottle {
    by_pair: Window<(String, IpAddr)>,
    by_email: Window<String>,
    by_ip: Window<IpAddr>,
    resets: Window<String>,
    /// With `redis_url`, every instance counts in Redis (the windows here count only when
    /// Redis cannot be reached).
    shared: Option<Arc<SharedLimits>>,
}

/// The client as counted: IPv6 by /64 (one subscriber's block).
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o.iter_mut().skip(8).for_each(|b| *b = 0);
            IpAddr::V6(o.into())
        }
        v4 => v4,
    }
}

fn too_many(wait: Duration) -> ApiError {
    let mut e = ApiError::rate_limited(
        "Too many failed sign-in attempts; wait before trying again",
        wait,
    );
    e.code = "too_many_attempts";
    e
}

const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);
const HOUR: Duration = Duration::from_secs(3600);
const PAIR: u32 = 10;
const EMAIL: u32 = 100;
const RESETS: u32 = 5;

/// An address as Redis's keys name it: hashed, so Redis holds no list of addresses and no
/// key is longer than a hash.
fn hashed(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

impl LoginThrottle {
    pub fn new(per_ip_per_minute: u32, shared: Option<Arc<SharedLimits>>) -> Self {
        Self {
            by_pair: Window::new(PAIR, FIFTEEN_MINUTES),
            by_email: Window::new(EMAIL, FIFTEEN_MINUTES),
            by_ip: Window::new(per_ip_per_minute, Duration::from_secs(60)),
            resets: Window::new(RESETS, HOUR),
            shared,
        }
    }

    /// What Redis decided of `windows`, if it is configured and answered.
    async fn shared_take(
        &self,
        windows: &[(String, u32, Duration)],
    ) -> Option<Result<(), ApiError>> {
        match self.shared.as_ref()?.take(windows).await {
            Verdict::Allowed => Some(Ok(())),
            Verdict::Wait(w) => Some(Err(too_many(w))),
            Verdict::Unavailable => None,
        }
    }

    /// A sign-in attempt for `email` from `ip`, counted as a failure until
    /// [`LoginThrottle::succeeded`]; `429 too_many_attempts` when a window is spent.
    pub async fn attempt(&self, email: &str, ip: IpAddr) -> Result<(), ApiError> {
        let (email, ip) = (email.to_lowercase(), client(ip));
        let (e, per_ip) = (hashed(&email), self.by_ip.limit);
        let windows = [
            (format!("login:ip:{ip}"), per_ip, Duration::from_secs(60)),
            (format!("login:pair:{e}:{ip}"), PAIR, FIFTEEN_MINUTES),
            (format!("login:email:{e}"), EMAIL, FIFTEEN_MINUTES),
        ];
        if let Some(verdict) = self.shared_take(&windows).await {
            return verdict;
        }
        let now = Instant::now();
        let wait = [
            self.by_ip.take(ip, now),
            self.by_pair.take((email.clone(), ip), now),
            self.by_email.take(email, now),
        ]
        .into_iter()
        .flatten()
        .max();
        wait.map_or(Ok(()), |w| Err(too_many(w)))
    }

    /// The attempt was right: the address starts afresh, and the client's attempt is not
    /// a failure.
    pub async fn succeeded(&self, email: &str, ip: IpAddr) {
        let (email, ip) = (email.to_lowercase(), client(ip));
        if let Some(shared) = &self.shared {
            let e = hashed(&email);
            shared
                .give_back(&[
                    (format!("login:ip:{ip}"), false),
                    (format!("login:pair:{e}:{ip}"), true),
                    (format!("login:email:{e}"), true),
                ])
                .await;
        }
        self.by_ip.give_back(&ip);
        self.by_pair.clear(&(email.clone(), ip));
        self.by_email.clear(&email);
    }

    /// A password-reset e-mail asked for `email` from `ip`: counted against the client like
    /// a sign-in, against the address apart from sign-ins.
    pub async fn reset_asked(&self, email: &str, ip: IpAddr) -> Result<(), ApiError> {
        let (email, ip) = (email.to_lowercase(), client(ip));
        let windows = [
            (
                format!("login:ip:{ip}"),
                self.by_ip.limit,
                Duration::from_secs(60),
            ),
            (format!("login:reset:{}", hashed(&email)), RESETS, HOUR),
        ];
        if let Some(verdict) = self.shared_take(&windows).await {
            return verdict;
        }
        let now = Instant::now();
        let wait = [self.by_ip.take(ip, now), self.resets.take(email, now)]
            .into_iter()
            .flatten()
            .max();
        wait.map_or(Ok(()), |w| Err(too_many(w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ten_failures_from_a_client_then_a_wait_and_success_clears() {
        let t = LoginThrottle::new(1000, None);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1::2".parse().unwrap();
        for _ in 0..10 {
            assert!(t.attempt("A@x.example", ip).await.is_ok());
        }
        let e = t.attempt("a@x.example", ip).await.unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("too_many_attempts", 429));
        assert!(e.retry_after.unwrap() > 800);
        // Another client is not locked out by these ten…
        assert!(t.attempt("a@x.example", other).await.is_ok());
        // …nor by resets asked for the address.
        for _ in 0..5 {
            assert!(t.reset_asked("a@x.example", other).await.is_ok());
        }
        assert!(t.reset_asked("a@x.example", other).await.is_err());
        assert!(t.attempt("a@x.example", other).await.is_ok());
        t.succeeded("a@x.example", ip).await;
        assert!(t.attempt("a@x.example", ip).await.is_ok());
    }

    #[tokio::test]
    async fn a_hundred_failures_from_anywhere_lock_the_address() {
        let t = LoginThrottle::new(1000, None);
        for i in 0..100u8 {
            let ip = IpAddr::from([10, 0, 0, i]);
            assert!(t.attempt("a@x.example", ip).await.is_ok());
        }
        assert!(t
            .attempt("a@x.example", IpAddr::from([10, 0, 1, 1]))
            .await
            .is_err());
        assert!(t
            .attempt("b@x.example", IpAddr::from([10, 0, 1, 1]))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_client_is_counted_by_its_64() {
        let t = LoginThrottle::new(30, None);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::2".parse().unwrap();
        for i in 0..30 {
            assert!(t.attempt(&format!("{i}@x.example"), ip).await.is_ok());
        }
        assert!(t.attempt("new@x.example", neighbour).await.is_err());
    }
}
