//! Checkout sessions: holds on uses and stock, payment attempts, completion and expiry.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{checkout::*, event::Event, id::*, time::Timestamp};

/// Checkout sessions: holds on uses and stock, payment attempts, completion and expiry.
#[async_trait]
pub trait CheckoutStore: Send + Sync {
    async fn stock_levels(
        &self,
        t: &Tenant,
        products: &[ProductId],
    ) -> StoreResult<Vec<(ProductId, StockLevel)>>;

    /// When the earliest hold on the link ends (for `Retry-After`).
    async fn next_hold_expiry(&self, link: &PaymentLinkId) -> StoreResult<Option<Timestamp>>;

    /// Opens a session, holding one use of the link and the stock it needs, atomically.
    /// Conflicts: `link_fully_reserved`, `link_used_up`, `link_inactive`, `sold_out`,
    /// `stock_reserved`, and for a link of an order `order_paid`, `order_cancelled`,
    /// `order_reserved`; with a `link_version`, any refusal is `link_changed`.
    async fn start_checkout(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<()>;

    async fn get_checkout(&self, id: &CheckoutSessionId) -> StoreResult<CheckoutRecord>;

    /// A session and its link's configuration in one read (see [`LinkConfig`]); the link
    /// is `None` if it was deleted.
    async fn get_checkout_with_link(
        &self,
        id: &CheckoutSessionId,
    ) -> StoreResult<(CheckoutRecord, Option<LinkConfig>)>;

    /// The usual start of paying, in one statement: claims an attempt on a session that is
    /// open, unexpired, has no attempt under way and whose secret hashes to `secret_hash`,
    /// and returns it with its link's configuration and the attempt's number. `None` if
    /// any of that does not hold: [`CheckoutStore::get_checkout_with_link`] and
    /// [`CheckoutStore::begin_attempt`] then tell why.
    async fn claim_fresh_attempt(
        &self,
        id: &CheckoutSessionId,
        secret_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(CheckoutRecord, Option<LinkConfig>, i64)>>;

    /// Records a payment attempt before the processor is called.
    async fn begin_attempt(
        &self,
        id: &CheckoutSessionId,
        now: Timestamp,
        stale_after_secs: i64,
    ) -> StoreResult<AttemptClaim>;

    /// The attempt needs the customer's action (3-D Secure).
    async fn attempt_requires_action(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        reference: &str,
    ) -> StoreResult<()>;

    /// Takes a session waiting for the customer's action back into processing.
    async fn claim_action(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// The attempt ended without a charge: the session stays open for another try. A
    /// declined charge is recorded as a failed payment with its events.
    async fn end_attempt(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        failed: Option<&Payment>,
        events: &[Event],
    ) -> StoreResult<()>;

    /// Records a successful charge: the payment with its receipt number, the session
    /// complete, the link's counts (and `paid` status), the held stock sold, an order paid,
    /// and their events, in one transaction.
    async fn complete_checkout(&self, t: &Tenant, c: &Completing<'_>) -> StoreResult<Completion>;

    /// Ends one open session of this tenant now, whatever its time left, giving back what
    /// it holds (a use of the link's limit, stock, its order); a session being paid at this
    /// moment is not ended (its payment decides). `false` when there was none to end.
    async fn end_checkout(
        &self,
        t: &Tenant,
        id: &CheckoutSessionId,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Expires open sessions past their time (every merchant), releasing their holds.
    /// A session whose attempt is `processing` is left to [`CheckoutStore::stuck_attempts`].
    async fn expire_checkouts(&self, now: Timestamp, limit: i64) -> StoreResult<u64>;

    /// Sessions past their time whose payment attempt has been `processing` since before
    /// `stale_before`: a request or a process died while paying, and nobody came back.
    /// The worker settles them with the processor, so that their holds can end.
    async fn stuck_attempts(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<CheckoutSessionId>>;
}
