//! This process: its heartbeat, so that its claims can be taken over when it dies.

use crate::SqlStore;
use async_trait::async_trait;
use paylink_domain::time::Timestamp;
use paylink_store::*;

#[async_trait]
impl ProcessStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    async fn heartbeat(&self, now: Timestamp) -> StoreResult<()> {
        self.heartbeat_impl(now).await
    }

    async fn retire(&self) -> StoreResult<()> {
        self.retire_impl().await
    }

    async fn announce_change(&self) -> StoreResult<()> {
        self.announce_change_impl().await
    }

    async fn watch_changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        self.watch_changes_impl().await
    }
}
