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

    /// Tells every process on this database that a merchant's data changed (a link,
    /// settings, a key), so that each drops what it cached. Nothing to do where only one
    /// process serves (SQLite).
    async fn announce_change(&self) -> StoreResult<()>;

    /// The announcements of every process, this one's too, as they come; `None` where
    /// there is no other process to hear (SQLite).
    async fn watch_changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>>;
}

/// What [`ProcessStore::watch_changes`] hands back.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next announcement: `true` for another process's, or when some may
    /// have been missed (the connection was lost and made again), so drop everything
    /// cached; `false` for this process's own. An error means the feed could not be
    /// reached; wait and call again.
    async fn next(&mut self) -> StoreResult<bool>;
}
