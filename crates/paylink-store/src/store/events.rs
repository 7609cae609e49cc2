//! The events every change wrote (the outbox webhooks are delivered from).

use async_trait::async_trait;

use crate::*;
use paylink_domain::{event::Event, id::*};

/// The events every change wrote (the outbox webhooks are delivered from).
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn get_event(&self, t: &Tenant, id: &EventId) -> StoreResult<Event>;

    async fn list_events(
        &self,
        t: &Tenant,
        f: &EventFilter,
        page: &Page,
    ) -> StoreResult<Listed<Event>>;
}
