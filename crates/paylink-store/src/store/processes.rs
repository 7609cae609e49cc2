//! This process: its heartbeat, so that its claims can be taken over when it dies.

use async_trait::async_trait;

use crate::*;
use paylink_domain::time::Timestamp;

/// This process: its heartbeat, so that its claims can be taken over when it dies.
#[async_trait]
pub trait ProcessStore: Send + Sync {
    /// Which database this is (`sqlite` or `postgres`), for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    /// Writes that this process is alive. Its claims (idempotency keys in flight, payment
    /// attempts under way) name it; call this before serving and every
    /// [`HEARTBEAT_SECS`]. A process unseen for [`DEAD_AFTER_SECS`] has its claims taken
    /// over by the next request that meets them.
    async fn heartbeat(&self, now: Timestamp) -> StoreResult<()>;

    /// Marks this process gone (a clean shutdown): its claims are free at once.
    async fn retire(&self) -> StoreResult<()>;
}
