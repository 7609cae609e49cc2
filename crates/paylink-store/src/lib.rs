//! The storage boundary of Paylink: one trait, its error type, and the records it keeps.
//!
//! Every method that touches a merchant's data takes a [`Tenant`], so a query that forgets
//! the merchant or the mode cannot be written. Methods that change state take the events
//! the change causes and write them in the same transaction (the outbox).
//!
//! [`conformance`] holds the story that every backend must pass.

pub mod conformance;
mod records;

pub use records::*;

use async_trait::async_trait;
use paylink_domain::catalog::{Customer, Order, Product, TaxRate};
use paylink_domain::checkout::{Payment, Refund};
use paylink_domain::email::Email;
use paylink_domain::event::Event;
use paylink_domain::id::*;
use paylink_domain::link::PaymentLink;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;
use paylink_domain::webhook::WebhookEndpoint;

/// Whose data, in which mode. Built only by the server's auth layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub merchant_id: MerchantId,
    pub livemode: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object for this tenant (another merchant's object is "not found" too).
    #[error("not found")]
    NotFound,
    /// A uniqueness or state guard refused the write; the code is client-safe
    /// (`slug_taken`, `payment_link_has_payments`, `concurrent_update`, …).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A list cursor that names no object of this tenant.
    #[error("unknown cursor")]
    InvalidCursor,
    /// Anything else: logged once by the server and answered as a bare 500.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How often a serving process writes its heartbeat.
pub const HEARTBEAT_SECS: u64 = 2;
/// A process whose heartbeat is older than this is taken to be dead: the longest a
/// customer's retry waits on a claim its crashed process left (plus under a second).
pub const DEAD_AFTER_SECS: i64 = 6;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is (`sqlite` or `postgres`), for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    // ---- merchants and keys ------------------------------------------------------------
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
    /// Revokes the tenant's active key; `Conflict("last_secret_key")` when it is the mode's
    /// last active secret key (decided atomically: two revocations racing leave one).
    async fn revoke_api_key(
        &self,
        t: &Tenant,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> StoreResult<ApiKeyRecord>;

    // ---- this process ------------------------------------------------------------------
    /// Writes that this process is alive. Its claims (idempotency keys in flight, payment
    /// attempts under way) name it; call this before serving and every
    /// [`HEARTBEAT_SECS`]. A process unseen for [`DEAD_AFTER_SECS`] has its claims taken
    /// over by the next request that meets them.
    async fn heartbeat(&self, now: Timestamp) -> StoreResult<()>;
    /// Marks this process gone (a clean shutdown): its claims are free at once.
    async fn retire(&self) -> StoreResult<()>;

    // ---- idempotency -------------------------------------------------------------------
    /// Claims `key` for a request with this fingerprint, or says why it can't.
    async fn idempotency_begin(
        &self,
        t: &Tenant,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<IdempotencyBegin>;
    /// Whether `key` is known and younger than the retention period (a request with it was
    /// answered, or is running).
    async fn idempotency_known(&self, t: &Tenant, key: &str, now: Timestamp) -> StoreResult<bool>;
    /// Records a response under a key nobody claimed (a request answered without a change,
    /// e.g. refused) and says whether it did: a key already there (and younger than the
    /// retention period) is left alone.
    async fn idempotency_record(&self, t: &Tenant, answer: &IdempotentAnswer) -> StoreResult<bool>;
    /// Records the response of the request that claimed `key`.
    async fn idempotency_finish(
        &self,
        t: &Tenant,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()>;
    /// Releases `key` (the request failed in a way a retry may fix).
    async fn idempotency_release(&self, t: &Tenant, key: &str) -> StoreResult<()>;
    /// Forgets keys created before `before` (every merchant); returns how many.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64>;

    // ---- catalog -----------------------------------------------------------------------
    async fn insert_product(&self, t: &Tenant, p: &Product) -> StoreResult<()>;
    async fn get_product(&self, t: &Tenant, id: &ProductId) -> StoreResult<Product>;
    /// Writes `p`; its stock column is set only when `set_inventory` (stock is otherwise
    /// owned by checkouts, which change it atomically).
    async fn update_product(&self, t: &Tenant, p: &Product, set_inventory: bool)
        -> StoreResult<()>;
    async fn list_products(
        &self,
        t: &Tenant,
        f: &ProductFilter,
        page: &Page,
    ) -> StoreResult<Listed<Product>>;

    async fn insert_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()>;
    async fn get_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<Customer>;
    async fn update_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()>;
    async fn delete_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<()>;
    async fn list_customers(
        &self,
        t: &Tenant,
        f: &CustomerFilter,
        page: &Page,
    ) -> StoreResult<Listed<Customer>>;

    async fn insert_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()>;
    async fn get_tax_rate(&self, t: &Tenant, id: &TaxRateId) -> StoreResult<TaxRate>;
    async fn update_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()>;
    async fn list_tax_rates(
        &self,
        t: &Tenant,
        f: &TaxRateFilter,
        page: &Page,
    ) -> StoreResult<Listed<TaxRate>>;

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

    // ---- payment links -----------------------------------------------------------------
    /// Inserts the link with its events and, when given, the request's idempotent answer,
    /// all or nothing. A key already known (younger than the retention period) refuses the
    /// whole insert with `Conflict("idempotency_key_in_use")`; an older one is replaced.
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

    // ---- checkout ----------------------------------------------------------------------
    /// A link by slug, for the public pages (deleted links too, to answer 410).
    async fn find_link_by_slug(&self, slug: &str) -> StoreResult<Option<PublicLink>>;
    /// Adds counted page views to links, in one transaction.
    async fn add_views(&self, views: &[(PaymentLinkId, i64)]) -> StoreResult<()>;
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
    /// any of that does not hold: [`Store::get_checkout_with_link`] and
    /// [`Store::begin_attempt`] then tell why.
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
    /// Emits `payment_link.expired` for links whose `expires_at` has passed, exactly once
    /// per link even with several workers; returns how many.
    async fn emit_expired_links(
        &self,
        now: Timestamp,
        limit: i64,
        public_url: &str,
    ) -> StoreResult<u64>;
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
    /// A session whose attempt is `processing` is left to [`Store::stuck_attempts`].
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

    // ---- payments and refunds ----------------------------------------------------------
    async fn get_payment(&self, t: &Tenant, id: &PaymentId) -> StoreResult<Payment>;
    /// A payment with its receipt token, for the public receipt page.
    async fn get_payment_public(
        &self,
        id: &PaymentId,
    ) -> StoreResult<(Tenant, Payment, Option<String>)>;
    async fn list_payments(
        &self,
        t: &Tenant,
        f: &PaymentFilter,
        page: &Page,
    ) -> StoreResult<Listed<Payment>>;
    /// A link's successful payments (refunded or not) per currency: `(code, count, sum)`.
    async fn link_takings(
        &self,
        t: &Tenant,
        link: &PaymentLinkId,
    ) -> StoreResult<Vec<(String, i64, i64)>>;
    /// Records a refund if it keeps the refunded total within the amount paid
    /// (`refund_exceeds_payment`, `payment_not_refundable`); returns the updated payment.
    async fn insert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<Payment>;
    /// Undoes a refund the processor refused.
    async fn revert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<()>;

    // ---- webhooks ----------------------------------------------------------------------
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

    // ---- e-mail outbox ------------------------------------------------------------------
    /// Queues messages (with the events they cause) in one transaction.
    async fn queue_emails(&self, t: &Tenant, emails: &[Email], events: &[Event])
        -> StoreResult<()>;
    async fn list_emails(
        &self,
        t: &Tenant,
        status: Option<&str>,
        page: &Page,
    ) -> StoreResult<Listed<Email>>;
    /// Claims up to `limit` due messages (every merchant) for `lock_secs`.
    async fn claim_emails(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<Email>>;
    /// Records a send attempt: sent, or failed with the next try (`None`: give up). A
    /// message composed when it was sent (a receipt, [`Email::receipt_of`]) is kept as
    /// sent (`sent`), so the outbox shows what went out.
    async fn finish_email(
        &self,
        id: &EmailId,
        error: Option<&str>,
        retry_at: Option<Timestamp>,
        sent: Option<&Email>,
    ) -> StoreResult<()>;

    // ---- events ------------------------------------------------------------------------
    async fn get_event(&self, t: &Tenant, id: &EventId) -> StoreResult<Event>;
    async fn list_events(
        &self,
        t: &Tenant,
        f: &EventFilter,
        page: &Page,
    ) -> StoreResult<Listed<Event>>;
}
