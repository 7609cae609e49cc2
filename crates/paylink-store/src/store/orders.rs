//! Orders a link can sell exactly once.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{catalog::*, event::Event, id::*, time::Timestamp};

/// Orders a link can sell exactly once.
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn insert_order(&self, t: &Tenant, o: &Order, events: &[Event]) -> StoreResult<()>;

    async fn get_order(&self, t: &Tenant, id: &OrderId) -> StoreResult<Order>;

    /// Cancels an unpaid order. A checkout that holds it (see [`NewCheckout::order_id`]) is
    /// ended first, unless it is being paid right now. Conflicts: `order_paid`,
    /// `order_cancelled`, `order_being_paid`.
    async fn cancel_order(&self, t: &Tenant, id: &OrderId, now: Timestamp) -> StoreResult<Order>;

    async fn list_orders(
        &self,
        t: &Tenant,
        f: &OrderFilter,
        page: &Page,
    ) -> StoreResult<Listed<Order>>;
}
