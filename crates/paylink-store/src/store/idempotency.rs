//! Idempotency keys: one answer per key, claimed before the work.

use async_trait::async_trait;

use crate::*;
use paylink_domain::time::Timestamp;

/// Idempotency keys: one answer per key, claimed before the work.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with this fingerprint, or says why it can't.
    async fn idempotency_begin(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<IdempotencyBegin>;

    /// Whether `key` is known and younger than the retention period (a request with it was
    /// answered, or is running).
    async fn idempotency_known(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Records a response under a key nobody claimed (a request answered without a change,
    /// e.g. refused) and says whether it did: a key already there (and younger than the
    /// retention period) is left alone.
    async fn idempotency_record(
        &self,
        scope: &IdempotencyScope,
        answer: &IdempotentAnswer,
    ) -> StoreResult<bool>;

    /// Records the response of the request that claimed `key`.
    async fn idempotency_finish(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()>;

    /// Releases `key` (the request failed in a way a retry may fix).
    async fn idempotency_release(&self, scope: &IdempotencyScope, key: &str) -> StoreResult<()>;

    /// Forgets keys created before `before` (every merchant); returns how many.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64>;
}
