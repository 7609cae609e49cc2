//! Webhook endpoints and the deliveries of events to them.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{id::*, time::Timestamp, webhook::WebhookEndpoint};

/// Webhook endpoints and the deliveries of events to them.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook_endpoint(
        &self,
        t: &Tenant,
        e: &WebhookEndpoint,
        secret: &str,
    ) -> StoreResult<()>;

    async fn get_webhook_endpoint(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint>;

    async fn list_webhook_endpoints(
        &self,
        t: &Tenant,
        page: &Page,
    ) -> StoreResult<Listed<WebhookEndpoint>>;

    /// Writes URL, events, description and status; enabling clears the failure clock.
    async fn update_webhook_endpoint(&self, t: &Tenant, e: &WebhookEndpoint) -> StoreResult<()>;

    async fn delete_webhook_endpoint(&self, t: &Tenant, id: &WebhookEndpointId) -> StoreResult<()>;

    /// Installs a new secret; the old one still signs until `overlap_until`.
    async fn rotate_webhook_secret(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
        secret: &str,
        overlap_until: Timestamp,
    ) -> StoreResult<()>;

    async fn list_delivery_attempts(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
        page: &Page,
    ) -> StoreResult<Listed<DeliveryAttempt>>;

    /// Queues the event again for every enabled endpoint that takes it; returns how many.
    async fn redeliver_event(&self, t: &Tenant, id: &EventId, now: Timestamp) -> StoreResult<u64>;

    /// Claims up to `limit` due deliveries (every merchant) for `lock_secs`; several workers
    /// never claim the same one at once.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<DeliveryJob>>;

    /// Records an attempt and what comes next; `disable` turns the endpoint off (with a
    /// `webhook_endpoint.disabled` event).
    async fn finish_delivery(
        &self,
        job: &DeliveryJob,
        attempt: &DeliveryAttempt,
        next: DeliveryNext,
        disable: bool,
    ) -> StoreResult<()>;
}
