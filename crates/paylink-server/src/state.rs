//! What every handler shares.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use std::time::Duration;

use paylink_domain::id::MerchantId;
use paylink_domain::settings::MerchantSettings;
use paylink_processors::{Processor, SimulatedProcessor};
use paylink_store::Store;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub public_url: Arc<str>,
    pub key_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub ip_limiter: Arc<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    pub processor: Arc<dyn Processor>,
    /// Page views not yet written.
    pub views: Arc<crate::views::Views>,
    /// Merchant settings for the public pages, kept for a second (see [`AppState::public_settings`]).
    settings_cache: Arc<
        std::sync::Mutex<
            std::collections::HashMap<MerchantId, (std::time::Instant, MerchantSettings)>,
        >,
    >,
}

/// How long the public pages may show settings older than the database's.
const SETTINGS_TTL: Duration = Duration::from_secs(1);

impl AppState {
    /// The merchant's settings for the customer side. Every view needs them and they rarely
    /// change, so they are kept for a second; a change made through this process is seen at
    /// once, one made through another instance within a second. Checkout still re-checks
    /// everything that guards money (limits, stock) in the database.
    pub async fn public_settings(
        &self,
        id: &MerchantId,
    ) -> Result<MerchantSettings, paylink_store::StoreError> {
        if let Ok(cache) = self.settings_cache.lock() {
            if let Some((at, s)) = cache.get(id) {
                if at.elapsed() < SETTINGS_TTL {
                    return Ok(s.clone());
                }
            }
        }
        let settings = self.store.get_merchant(id).await?.settings;
        if let Ok(mut cache) = self.settings_cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(id.clone(), (std::time::Instant::now(), settings.clone()));
        }
        Ok(settings)
    }

    /// Drops a merchant's cached settings (after they change).
    pub fn forget_settings(&self, id: &MerchantId) {
        if let Ok(mut cache) = self.settings_cache.lock() {
            cache.remove(id);
        }
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
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
        let processor: Arc<dyn Processor> = Arc::new(SimulatedProcessor::new(
            Duration::from_millis(config.simulated_processor_latency_ms),
        ));
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
    ) -> Self {
        Self {
            store,
            public_url: Arc::from(config.public_url()),
            config: Arc::new(config),
            key_limiter: Arc::new(RateLimiter::keyed(key_quota)),
            ip_limiter: Arc::new(RateLimiter::keyed(ip_quota)),
            processor,
            views: Arc::default(),
            settings_cache: Arc::default(),
        }
    }
}
