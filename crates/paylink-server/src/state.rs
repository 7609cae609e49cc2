//! What every handler shares.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use std::time::Duration;

use anyhow::Context;

use paylink_domain::id::MerchantId;
use paylink_domain::settings::MerchantSettings;
use paylink_processors::{Processor, SimulatedProcessor};
use paylink_store::{ApiKeyRecord, Store};

use crate::cache::TtlCache;
use crate::checkout::LinkView;
use crate::config::Config;
use crate::error::ApiError;

/// Cloned for every layer of every request, so it is one `Arc`: one reference count to
/// touch instead of one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub public_url: Arc<str>,
    pub key_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub ip_limiter: Arc<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<crate::auth::FailedAuth>,
    /// Limits shared with the other instances, when Redis is configured.
    pub shared_limits: Option<Arc<crate::shared_limits::SharedLimits>>,
    /// Sign-in attempts per e-mail and per client address.
    pub logins: Arc<crate::accounts::LoginThrottle>,
    /// The audit log's writer (see [`crate::accounts::journal`]).
    pub journal: Arc<crate::accounts::journal::Journal>,
    /// Woken when a merchant's data changed through this instance (see [`crate::changes`]).
    pub changed: Arc<tokio::sync::Notify>,
    /// Whose forwarding headers name the client (see [`crate::proxies`]).
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// Seals secrets kept at rest (webhook secrets, checkout answers kept for retries).
    pub sealer: Arc<crate::secrets::Sealer>,
    pub processor: Arc<dyn Processor>,
    /// Calls to Stripe (no SSRF guard: `stripe_api_base` is the operator's).
    pub stripe_http: reqwest::Client,
    /// Page views not yet written.
    pub views: Arc<crate::views::Views>,
    /// Merchant settings for the public pages (see [`AppState::public_settings`]).
    settings_cache: Arc<TtlCache<MerchantId, MerchantSettings>>,
    /// Links as the public pages show them, by slug (see [`AppState::link_view`]).
    pub links_cache: Arc<TtlCache<String, Arc<LinkView>>>,
    /// API keys that resolved, by hash (see [`AppState::api_key`]).
    keys_cache: Arc<TtlCache<String, ApiKeyRecord>>,
}

impl AppState {
    /// The merchant's settings, as the customer side and the API's defaults and checks use
    /// them. Every request needs them and they rarely change, so they are kept for
    /// `public_cache_ms`; a change made through this process is seen at once, one made
    /// through another instance within that time. Checkout still re-checks everything that
    /// guards money (limits, stock) in the database.
    pub async fn public_settings(
        &self,
        id: &MerchantId,
    ) -> Result<MerchantSettings, paylink_store::StoreError> {
        if let Some(s) = self.settings_cache.get(id) {
            return Ok(s);
        }
        let ticket = self.settings_cache.ticket();
        let settings = self.store.get_merchant(id).await?.settings;
        self.settings_cache
            .put(id.clone(), settings.clone(), ticket);
        Ok(settings)
    }

    /// Drops everything cached (another instance changed something).
    /// Where a new e-mail waits: for the mailer, or held when no SMTP server is configured.
    pub fn outbox_status(&self) -> paylink_domain::email::EmailStatus {
        match self.config.smtp_url {
            Some(_) => paylink_domain::email::EmailStatus::Pending,
            None => paylink_domain::email::EmailStatus::Held,
        }
    }

    pub fn forget_everything(&self) {
        self.links_cache.forget_all();
        self.settings_cache.forget_all();
        self.keys_cache.forget_all();
    }

    /// Drops a merchant's cached settings (after they change).
    pub fn forget_settings(&self, id: &MerchantId) {
        self.settings_cache.forget(id);
    }

    /// The live key whose hash is `hash`, kept for `public_cache_ms` once found (unknown
    /// keys always ask the database). Revoking a key through this process takes effect at
    /// once; through another instance, within that time.
    pub async fn api_key(
        &self,
        hash: &str,
    ) -> Result<Option<ApiKeyRecord>, paylink_store::StoreError> {
        if let Some(k) = self.keys_cache.get(hash) {
            return Ok(Some(k));
        }
        let ticket = self.keys_cache.ticket();
        let found = self.store.find_api_key(hash).await?;
        if let Some(k) = &found {
            self.keys_cache.put(hash.to_owned(), k.clone(), ticket);
        }
        Ok(found)
    }

    /// Drops a key from the cache (after it is revoked).
    pub fn forget_api_key(&self, hash: &str) {
        self.keys_cache.forget(hash);
    }

    /// A link with its stock as the hosted page and the preview show it, kept for
    /// `public_cache_ms`. Views only: starting a checkout reads the database.
    pub async fn link_view(&self, slug: &str) -> Result<Arc<LinkView>, ApiError> {
        if let Some(v) = self.links_cache.get(slug) {
            return Ok(v);
        }
        let ticket = self.links_cache.ticket();
        let view = Arc::new(LinkView::load(self, slug).await?);
        // A link of an order shows its order's status, which a payment through any of the
        // order's links changes: such links are always read afresh.
        if view.p.link.value.order_id.is_none() {
            self.links_cache.put(slug.to_owned(), view.clone(), ticket);
        }
        Ok(view)
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> anyhow::Result<Self> {
        let latency = Duration::from_millis(config.simulated_processor_latency_ms);
        let processor = match &config.simulated_processor_ledger {
            Some(path) => SimulatedProcessor::with_ledger(latency, path).with_context(|| {
                format!(
                    "opening the simulated processor's ledger {}",
                    path.display()
                )
            })?,
            None => SimulatedProcessor::new(latency),
        };
        Self::with(store, config, Arc::new(processor))
    }

    /// The state with a given processor and the configured limits.
    pub fn with(
        store: Arc<dyn Store>,
        config: Config,
        processor: Arc<dyn Processor>,
    ) -> anyhow::Result<Self> {
        let per_second = NonZeroU32::new(config.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit_burst.max(config.rate_limit_per_second))
            .unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        let ip_rate =
            NonZeroU32::new(config.public_rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let ip_burst = NonZeroU32::new(
            config
                .public_rate_limit_burst
                .max(config.public_rate_limit_per_second),
        )
        .unwrap_or(ip_rate);
        Self::with_processor(
            store,
            config,
            processor,
            quota,
            Quota::per_second(ip_rate).allow_burst(ip_burst),
        )
    }

    /// The same state with a given processor (tests keep a handle on it).
    pub fn with_processor(
        store: Arc<dyn Store>,
        config: Config,
        processor: Arc<dyn Processor>,
        key_quota: Quota,
        ip_quota: Quota,
    ) -> anyhow::Result<Self> {
        let cache_ttl = Duration::from_millis(config.public_cache_ms);
        let sealer = Arc::new(config.sealer()?);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(crate::accounts::passwords::warm_up);
        }
        let shared_limits = match &config.redis_url {
            Some(url) => Some(Arc::new(crate::shared_limits::SharedLimits::connect(url)?)),
            None => None,
        };
        let stripe_http = paylink_processors::stripe::StripeClient::http(Duration::from_millis(
            config.processor_timeout_ms,
        ));
        Ok(Self(Arc::new(Shared {
            auth_failures: Arc::new(crate::auth::FailedAuth::new(
                config.auth_failures_per_minute,
            )),
            journal: Arc::new(crate::accounts::journal::Journal::start(store.clone())),
            logins: Arc::new(crate::accounts::LoginThrottle::new(
                config.auth_failures_per_minute,
                shared_limits.clone(),
            )),
            sealer,
            store,
            changed: Arc::default(),
            shared_limits,
            trusted_proxies: crate::proxies::TrustedProxies::parse(
                config.trusted_proxies.as_deref(),
            )?,
            public_url: Arc::from(config.public_url()),
            config: Arc::new(config),
            key_limiter: Arc::new(RateLimiter::keyed(key_quota)),
            ip_limiter: Arc::new(RateLimiter::keyed(ip_quota)),
            processor,
            stripe_http,
            views: Arc::default(),
            settings_cache: Arc::new(TtlCache::new(cache_ttl, 10_000)),
            links_cache: Arc::new(TtlCache::new(cache_ttl, 100_000)),
            keys_cache: Arc::new(TtlCache::new(cache_ttl, 10_000)),
        })))
    }
}
