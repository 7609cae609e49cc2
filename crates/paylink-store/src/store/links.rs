//! Payment links: the merchant's writes, the public lookup by slug, views and expiry.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{event::Event, id::*, link::PaymentLink, time::Timestamp};

/// Payment links: the merchant's writes, the public lookup by slug, views and expiry.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Inserts the link with its events and, when given, the request's idempotent answer,
    /// all or nothing. A key already known (younger than the retention period) refuses the
    /// whole insert with `Conflict::IdempotencyKeyInUse`; an older one is replaced.
    async fn insert_payment_link(
        &self,
        t: &Tenant,
        l: &PaymentLink,
        events: &[Event],
        answer: Option<&IdempotentAnswer>,
    ) -> StoreResult<()>;

    /// The link with its counters and `version`; deleted links are not found.
    async fn get_payment_link(
        &self,
        t: &Tenant,
        id: &PaymentLinkId,
    ) -> StoreResult<Versioned<PaymentLink>>;

    /// Writes `l` if nobody changed the link since `version` was read, and, when
    /// `require_no_payments`, only while it has no payments (`payment_link_has_payments`).
    async fn update_payment_link(
        &self,
        t: &Tenant,
        l: &PaymentLink,
        version: i64,
        require_no_payments: bool,
        events: &[Event],
    ) -> StoreResult<()>;

    /// Soft-deletes a link that has no payments.
    async fn delete_payment_link(
        &self,
        t: &Tenant,
        id: &PaymentLinkId,
        now: Timestamp,
        events: &[Event],
    ) -> StoreResult<()>;

    async fn list_payment_links(
        &self,
        t: &Tenant,
        f: &LinkFilter,
        page: &Page,
    ) -> StoreResult<Listed<PaymentLink>>;

    /// A link by slug, for the public pages (deleted links too, to answer 410).
    async fn find_link_by_slug(&self, slug: &str) -> StoreResult<Option<PublicLink>>;

    /// Adds counted page views to links, in one transaction.
    async fn add_views(&self, views: &[(PaymentLinkId, i64)]) -> StoreResult<()>;

    /// Emits `payment_link.expired` for links whose `expires_at` has passed, exactly once
    /// per link even with several workers; returns how many.
    async fn emit_expired_links(
        &self,
        now: Timestamp,
        limit: i64,
        public_url: &str,
    ) -> StoreResult<u64>;
}
