//! Failed sign-ins per e-mail address and per client address (IPv6 by /64), in memory per
//! process: 10 failures of an address within 15 minutes, or `auth_failures_per_minute` of a
//! client within a minute, and further attempts answer `429 too_many_attempts` with
//! `Retry-After` until the window ends, before any password is checked. A success clears
//! the address's count (not the client's), so a person who mistyped a few times is not
//! held back once in. An unknown address is counted exactly like a known one.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

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

    /// How long `key` must still wait, if it has spent its failures.
    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (failures, since) = entries.get(key)?;
        let until = *since + self.window;
        (*failures >= self.limit && now < until).then(|| until - now)
    }

    fn failed(&self, key: K, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 100_000 {
            let window = self.window;
            entries.retain(|_, (_, since)| now < *since + window);
        }
        let entry = entries.entry(key).or_insert((0, now));
        if now >= entry.1 + self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    fn clear(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

pub struct LoginThrottle {
    by_email: Window<String>,
    by_ip: Window<IpAddr>,
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

impl LoginThrottle {
    pub fn new(per_ip_per_minute: u32) -> Self {
        Self {
            by_email: Window::new(10, Duration::from_secs(15 * 60)),
            by_ip: Window::new(per_ip_per_minute, Duration::from_secs(60)),
        }
    }

    /// `429 too_many_attempts` while `email` or `ip` has spent its failures.
    pub fn check(&self, email: &str, ip: IpAddr) -> Result<(), ApiError> {
        let now = Instant::now();
        let wait = self
            .by_ip
            .blocked(&client(ip), now)
            .into_iter()
            .chain(self.by_email.blocked(&email.to_lowercase(), now))
            .max();
        match wait {
            None => Ok(()),
            Some(wait) => {
                let mut e = ApiError::rate_limited(
                    "Too many failed sign-in attempts; wait before trying again",
                    wait,
                );
                e.code = "too_many_attempts";
                Err(e)
            }
        }
    }

    /// Counts a failure (a wrong password or code, or a reset asked for).
    pub fn failed(&self, email: &str, ip: IpAddr) {
        let now = Instant::now();
        self.by_ip.failed(client(ip), now);
        self.by_email.failed(email.to_lowercase(), now);
    }

    /// A success: the address starts afresh.
    pub fn succeeded(&self, email: &str) {
        self.by_email.clear(&email.to_lowercase());
    }

    /// [`LoginThrottle::check`], then counts the attempt as a failure whatever follows (for
    /// what must stay rare even when it succeeds: reset e-mails).
    pub fn attempt(&self, email: &str, ip: IpAddr) -> Result<(), ApiError> {
        self.check(email, ip)?;
        self.failed(email, ip);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_then_a_wait_and_success_clears() {
        let t = LoginThrottle::new(30);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let other: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..10 {
            assert!(t.check("A@x.example", ip).is_ok());
            t.failed("a@x.example", ip);
        }
        let e = t.check("a@x.example", other).unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("too_many_attempts", 429));
        assert!(e.retry_after.unwrap() > 800);
        t.succeeded("a@x.example");
        assert!(t.check("a@x.example", ip).is_ok());
        // The /64 counts as one client.
        for i in 0..30 {
            t.failed(&format!("{i}@x.example"), ip);
        }
        assert!(t.check("new@x.example", other).is_err());
    }
}
