//! Rate limits shared by every instance, in Redis (`redis_url`). Without it each instance
//! limits on its own, so N instances let a key through N times as fast.
//!
//! One round trip per request: a Lua script runs GCRA (the algorithm of the local limiter)
//! on Redis's own clock, so instances with skewed clocks agree. When Redis cannot be
//! reached or answers slowly, the instance falls back to its local limiter and says so in
//! its log (once a minute at most): never no limit, never refusing everything.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};

/// GCRA: `KEYS[1]` holds the theoretical arrival time (ms). Answers 0 (allowed) or the
/// milliseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat + interval - tolerance - now
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
return 0
";

/// Counts in fixed windows, all or none: `KEYS` are the windows, `ARGV` a limit and a
/// length (ms) for each. When any window is spent, answers the milliseconds it has left
/// and counts nothing; otherwise counts one in each and answers 0.
const TAKE: &str = r"
local wait = 0
for i, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local left = redis.call('PTTL', k)
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for i, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, ARGV[2 * i]) end
end
return 0
";

/// Takes counts back: for each of `KEYS`, `ARGV` says `clear` (the window starts afresh)
/// or `one` (one count less, never below none).
const GIVE_BACK: &str = r"
for i, k in ipairs(KEYS) do
  if ARGV[i] == 'clear' then
    redis.call('DEL', k)
  elseif tonumber(redis.call('GET', k) or '0') > 0 then
    redis.call('DECR', k)
  end
end
return 0
";

/// Longest wait for Redis before the local limiter decides.
const PATIENCE: Duration = Duration::from_millis(100);

pub struct SharedLimits {
    client: redis::Client,
    /// Made on first use, and again after Redis was unreachable (see [`Self::connection`]).
    connection: std::sync::Mutex<Option<ConnectionManager>>,
    /// When a connection was last attempted (Unix seconds).
    tried_at: AtomicI64,
    script: redis::Script,
    take: redis::Script,
    give_back: redis::Script,
    /// When the fallback was last logged (Unix seconds).
    logged_at: AtomicI64,
}

/// What Redis decided, or that it could not be asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Wait(Duration),
    Unavailable,
}

impl SharedLimits {
    /// Checks the URL; the connection is made on first use, so a Redis that is down at
    /// start is reached when it comes up, and meanwhile every check falls back.
    pub fn connect(url: &SecretString) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| anyhow::anyhow!("redis_url is not a Redis URL: {e}"))?;
        Ok(Self {
            client,
            connection: std::sync::Mutex::new(None),
            tried_at: AtomicI64::new(0),
            script: redis::Script::new(GCRA),
            take: redis::Script::new(TAKE),
            give_back: redis::Script::new(GIVE_BACK),
            logged_at: AtomicI64::new(0),
        })
    }

    /// The connection (it reconnects by itself once made), or a new one: tried by one
    /// request every few seconds while Redis is unreachable, the others falling back.
    async fn connection(&self) -> Option<ConnectionManager> {
        if let Some(c) = self.connection.lock().ok()?.as_ref() {
            return Some(c.clone());
        }
        let now = paylink_domain::time::Timestamp::now().unix();
        let last = self.tried_at.load(Ordering::Relaxed);
        if now - last < 5
            || self
                .tried_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(PATIENCE)
            .set_response_timeout(PATIENCE)
            .set_number_of_retries(1);
        let made = ConnectionManager::new_with_config(self.client.clone(), config);
        match tokio::time::timeout(PATIENCE, made).await {
            Ok(Ok(c)) => {
                *self.connection.lock().ok()? = Some(c.clone());
                Some(c)
            }
            _ => None,
        }
    }

    /// One request against `key`'s limit of `per_second` with bursts of `burst`.
    pub async fn check(&self, key: &str, per_second: u32, burst: u32) -> Verdict {
        let interval = 1000.0 / f64::from(per_second.max(1));
        let tolerance = interval * f64::from(burst.max(1));
        let Some(mut conn) = self.connection().await else {
            return self.unavailable("not connected");
        };
        let mut call = self.script.key(format!("paylink:rl:{key}"));
        call.arg(interval).arg(tolerance);
        self.verdict(call.invoke_async::<i64>(&mut conn)).await
    }

    /// One count in each of `windows` (`(key, limit, length)`), unless one is spent.
    pub async fn take(&self, windows: &[(String, u32, Duration)]) -> Verdict {
        let Some(mut conn) = self.connection().await else {
            return self.unavailable("not connected");
        };
        let mut call = self.take.prepare_invoke();
        for (key, limit, length) in windows {
            call.key(format!("paylink:count:{key}"))
                .arg(*limit)
                .arg(u64::try_from(length.as_millis()).unwrap_or(u64::MAX));
        }
        self.verdict(call.invoke_async::<i64>(&mut conn)).await
    }

    /// Takes counts back: each key cleared (`true`) or one less (`false`). Best effort: a
    /// count Redis misses runs out with its window.
    pub async fn give_back(&self, keys: &[(String, bool)]) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let mut call = self.give_back.prepare_invoke();
        for (key, clear) in keys {
            call.key(format!("paylink:count:{key}"))
                .arg(if *clear { "clear" } else { "one" });
        }
        if let Verdict::Unavailable = self.verdict(call.invoke_async::<i64>(&mut conn)).await {
            tracing::debug!("a count was not taken back in Redis");
        }
    }

    async fn verdict(
        &self,
        answer: impl std::future::Future<Output = redis::RedisResult<i64>>,
    ) -> Verdict {
        match tokio::time::timeout(PATIENCE, answer).await {
            Ok(Ok(0)) => Verdict::Allowed,
            Ok(Ok(ms)) => Verdict::Wait(Duration::from_millis(u64::try_from(ms).unwrap_or(1))),
            Ok(Err(e)) => self.unavailable(&e.to_string()),
            Err(_) => self.unavailable("no answer in 100 ms"),
        }
    }

    fn unavailable(&self, why: &str) -> Verdict {
        let now = paylink_domain::time::Timestamp::now().unix();
        let last = self.logged_at.load(Ordering::Relaxed);
        if now - last >= 60
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = why,
                "Redis is unavailable: rate limits fall back to this instance's own"
            );
        }
        Verdict::Unavailable
    }
}
