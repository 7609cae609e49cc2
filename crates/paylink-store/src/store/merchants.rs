//! Merchants, their settings and their API keys.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{id::*, settings::MerchantSettings, time::Timestamp};

/// Merchants, their settings and their API keys.
#[async_trait]
pub trait MerchantStore: Send + Sync {
    async fn create_merchant(&self, merchant: &Merchant, keys: &[ApiKeyRecord]) -> StoreResult<()>;

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Merchant>;

    async fn count_merchants(&self) -> StoreResult<i64>;

    /// Replaces the settings if `version` is still the current one.
    async fn update_settings(
        &self,
        id: &MerchantId,
        settings: &MerchantSettings,
        version: i64,
    ) -> StoreResult<Merchant>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;

    /// The key with this hash, with its merchant, unless revoked.
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;

    /// The tenant's keys (revoked ones too), newest first.
    async fn list_api_keys(&self, t: &Tenant, page: &Page) -> StoreResult<Listed<ApiKeyRecord>>;

    /// Revokes the tenant's active key; `Conflict::LastSecretKey` when it is the mode's
    /// last active secret key (decided atomically: two revocations racing leave one).
    async fn revoke_api_key(
        &self,
        t: &Tenant,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> StoreResult<ApiKeyRecord>;
}
