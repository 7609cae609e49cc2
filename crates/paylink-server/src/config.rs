//! Configuration in layers: defaults, then an optional TOML file (`--config`,
//! `PAYLINK_CONFIG`), then `PAYLINK_*` environment variables, then command-line flags.
//! Checked once at startup; secrets are wrapped so that `Debug` never prints them.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path` or `postgres://…`; default: SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    /// Base of link URLs; default `http://{bind}`.
    pub public_url: Option<String>,
    pub smtp_url: Option<SecretString>,
    pub email_from: Option<String>,
    /// Comma-separated CIDRs exempt from the webhook SSRF guard.
    pub webhook_allow_networks: Option<String>,
    /// `redis://…`: rate limits shared by every instance (see `shared_limits`); unset, each
    /// instance limits on its own.
    pub redis_url: Option<SecretString>,
    /// Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` are
    /// believed (see `proxies`); unset, the TCP peer is the client.
    pub trusted_proxies: Option<String>,
    pub webhook_retry_schedule: Option<String>,
    /// Delays between e-mail send retries, e.g. `30s,2m,10m,1h,6h`.
    pub email_retry_schedule: Option<String>,
    /// Longest wait for one webhook attempt.
    pub webhook_timeout_ms: u64,
    /// An endpoint failing for this long is disabled (default 5 days).
    pub webhook_disable_after_secs: i64,
    /// Time between two looks for due webhook deliveries.
    pub webhook_poll_ms: u64,
    /// Log filter, e.g. `info,paylink=debug`.
    pub log: String,
    /// Sustained requests per second allowed per API key.
    pub rate_limit_per_second: u32,
    /// Burst allowed per API key above the sustained rate.
    pub rate_limit_burst: u32,
    /// Database connections per process.
    pub db_max_connections: u32,
    /// Skip creating the demo merchant on first start.
    #[serde(deserialize_with = "flexible_bool")]
    pub no_demo: bool,
    /// Create the demo merchant on an empty PostgreSQL database too (on SQLite it is made
    /// unless `no_demo`): instances of a real deployment never make one unasked.
    #[serde(deserialize_with = "flexible_bool")]
    pub demo: bool,
    /// Added to every call of the simulated processor, to model a real one.
    pub simulated_processor_latency_ms: u64,
    /// A file where the simulated processor appends every charge before it answers, and
    /// reads back those of earlier and other processes: its own records, as a real
    /// processor keeps, for crash tests. Unset: it remembers charges in memory only.
    pub simulated_processor_ledger: Option<PathBuf>,
    /// Longest wait for one processor call.
    pub processor_timeout_ms: u64,
    /// A payment attempt still `processing` after this long is taken to have died and is
    /// reconciled with the processor on the next pay request.
    pub attempt_stale_after_secs: i64,
    /// Sustained requests per second allowed per client IP on public routes.
    pub public_rate_limit_per_second: u32,
    pub public_rate_limit_burst: u32,
    /// Time between two rounds of the worker's periodic jobs.
    pub worker_tick_ms: u64,
    /// How long a public page may show a link as it was (0 = always read it afresh).
    /// Changes made through this process are seen at once; money paths never use it.
    pub public_cache_ms: u64,
    /// 32 bytes (64 hex characters or base64) that seal secrets at rest; default: a key
    /// generated once into `{data_dir}/master.key`.
    pub master_key: Option<SecretString>,
    /// Failed authentications allowed per client address before it must wait (`429`);
    /// one more is allowed every `60 / auth_failures_per_minute` seconds after that.
    pub auth_failures_per_minute: u32,
    /// Where Stripe's API answers (tests point it at a local fake).
    pub stripe_api_base: String,
    /// Where hosted pages load Stripe.js from; its origin is the only one the pages'
    /// content security policy adds for Stripe's scripts and frames.
    pub stripe_js_url: String,
    /// How long after a Stripe PaymentIntent is made (and between later looks) the worker
    /// asks Stripe what became of it, in case nobody told us (a crash, a lost webhook).
    pub stripe_check_after_secs: i64,
}

/// A boolean as operators write it, in a file or a variable: `true`/`false`, `1`/`0`,
/// `yes`/`no`, `on`/`off` (any case).
fn flexible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    let yes_no = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    };
    match Given::deserialize(d)? {
        Given::Bool(b) => Some(b),
        Given::Int(n) => yes_no(&n.to_string()),
        Given::Text(s) => yes_no(&s),
    }
    .ok_or_else(|| {
        serde::de::Error::custom("expected a boolean: true/false, 1/0, yes/no or on/off")
    })
}

/// Defaults, as the first layer.
#[derive(Serialize)]
struct Defaults {
    data_dir: PathBuf,
    bind: SocketAddr,
    log: String,
    rate_limit_per_second: u32,
    rate_limit_burst: u32,
    db_max_connections: u32,
    no_demo: bool,
    demo: bool,
    simulated_processor_latency_ms: u64,
    processor_timeout_ms: u64,
    attempt_stale_after_secs: i64,
    public_rate_limit_per_second: u32,
    public_rate_limit_burst: u32,
    worker_tick_ms: u64,
    public_cache_ms: u64,
    webhook_timeout_ms: u64,
    webhook_disable_after_secs: i64,
    webhook_poll_ms: u64,
    auth_failures_per_minute: u32,
    stripe_api_base: String,
    stripe_js_url: String,
    stripe_check_after_secs: i64,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("paylink-data"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log: "info".into(),
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            db_max_connections: 16,
            no_demo: false,
            demo: false,
            simulated_processor_latency_ms: 0,
            processor_timeout_ms: 20_000,
            attempt_stale_after_secs: 30,
            public_rate_limit_per_second: 50,
            public_rate_limit_burst: 100,
            worker_tick_ms: 5_000,
            public_cache_ms: 1_000,
            webhook_timeout_ms: 15_000,
            webhook_disable_after_secs: 5 * 86_400,
            webhook_poll_ms: 500,
            auth_failures_per_minute: 30,
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_js_url: "https://js.stripe.com/v3/".into(),
            stripe_check_after_secs: 60,
        }
    }
}

/// Values given on the command line, the last layer. `None` leaves lower layers alone.
#[derive(Serialize, Default, Debug, Clone)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_processor_latency_ms: Option<u64>,
}

impl Config {
    /// Loads the layers; `file` is the optional TOML file.
    pub fn load(file: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Defaults::default()));
        let file = file.or_else(|| std::env::var_os("PAYLINK_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("PAYLINK_").ignore(&["CONFIG"]));
        fig = fig.merge(Serialized::defaults(overrides));
        let cfg: Config = fig.extract()?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.database_url {
            let url = url.expose_secret();
            anyhow::ensure!(
                url.starts_with("sqlite:")
                    || url.starts_with("postgres:")
                    || url.starts_with("postgresql:"),
                "database_url must start with sqlite: or postgres:"
            );
        }
        if let Some(p) = &self.public_url {
            anyhow::ensure!(
                p.starts_with("http://") || p.starts_with("https://"),
                "public_url must be an http(s) URL"
            );
        }
        anyhow::ensure!(
            self.rate_limit_per_second > 0,
            "rate_limit_per_second must be positive"
        );
        anyhow::ensure!(
            self.auth_failures_per_minute > 0,
            "auth_failures_per_minute must be positive"
        );
        crate::proxies::TrustedProxies::parse(self.trusted_proxies.as_deref())?;
        if let Some(k) = &self.master_key {
            crate::secrets::parse_key(k.expose_secret())?;
        }
        for (name, url) in [
            ("stripe_api_base", &self.stripe_api_base),
            ("stripe_js_url", &self.stripe_js_url),
        ] {
            anyhow::ensure!(
                crate::stripe::origin_of(url).is_some(),
                "{name} must be an http(s) URL"
            );
        }
        anyhow::ensure!(
            self.db_max_connections > 0,
            "db_max_connections must be positive"
        );
        Ok(())
    }

    /// The database URL, defaulting to SQLite in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose_secret().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("paylink.db").display()),
        }
    }

    pub fn uses_default_sqlite(&self) -> bool {
        self.database_url.is_none()
    }

    /// Base of public URLs, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// The sealer of secrets at rest, from `master_key` or the key file in `data_dir`.
    pub fn sealer(&self) -> anyhow::Result<crate::secrets::Sealer> {
        let key = match &self.master_key {
            Some(k) => crate::secrets::parse_key(k.expose_secret())?,
            None => {
                if !self.uses_default_sqlite() {
                    tracing::warn!(
                        "no master_key is set: using {}/master.key; instances that share a database must share PAYLINK_MASTER_KEY",
                        self.data_dir.display()
                    );
                }
                crate::secrets::key_file(&self.data_dir)?
            }
        };
        Ok(crate::secrets::Sealer::new(&key))
    }

    /// A configuration for tests and embedding: defaults with the given database.
    pub fn for_database(url: &str) -> Self {
        let d = Defaults::default();
        Self {
            database_url: Some(SecretString::from(url.to_owned())),
            data_dir: d.data_dir,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            smtp_url: None,
            email_from: None,
            webhook_allow_networks: None,
            trusted_proxies: None,
            redis_url: None,
            webhook_retry_schedule: None,
            email_retry_schedule: None,

            log: d.log,
            rate_limit_per_second: d.rate_limit_per_second,
            rate_limit_burst: d.rate_limit_burst,
            db_max_connections: d.db_max_connections,
            no_demo: true,
            demo: false,
            simulated_processor_latency_ms: d.simulated_processor_latency_ms,
            simulated_processor_ledger: None,
            processor_timeout_ms: d.processor_timeout_ms,
            attempt_stale_after_secs: d.attempt_stale_after_secs,
            public_rate_limit_per_second: 10_000,
            public_rate_limit_burst: 10_000,
            worker_tick_ms: d.worker_tick_ms,
            public_cache_ms: d.public_cache_ms,
            webhook_timeout_ms: d.webhook_timeout_ms,
            webhook_disable_after_secs: d.webhook_disable_after_secs,
            webhook_poll_ms: d.webhook_poll_ms,
            master_key: None,
            auth_failures_per_minute: d.auth_failures_per_minute,
            stripe_api_base: d.stripe_api_base,
            stripe_js_url: d.stripe_js_url,
            stripe_check_after_secs: d.stripe_check_after_secs,
        }
    }
}
