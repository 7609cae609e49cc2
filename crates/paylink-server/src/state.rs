//! What every handler shares.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use paylink_store::Store;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub public_url: Arc<str>,
    pub key_limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let per_second = NonZeroU32::new(config.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit_burst.max(config.rate_limit_per_second))
            .unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            store,
            public_url: Arc::from(config.public_url()),
            config: Arc::new(config),
            key_limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }
}
