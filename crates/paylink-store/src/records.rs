//! Records the store keeps that are not domain objects, and the shapes of queries.

use paylink_domain::id::{ApiKeyId, CustomerId, MerchantId};
use paylink_domain::link::{LinkStatus, LinkType};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub email: String,
    /// argon2 PHC string of the dashboard password, when one was set.
    pub password_hash: Option<String>,
    pub settings: MerchantSettings,
    /// Bumped on every settings change, for optimistic concurrency.
    pub version: i64,
    pub created_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Restricted,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Restricted => "restricted",
        }
    }
}

/// An API key as stored: never the key itself, only its SHA-256 and a masked form.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub kind: KeyKind,
    pub name: String,
    /// Empty for secret keys, which carry every scope.
    pub scopes: Vec<String>,
    pub key_hash: String,
    /// `sk_test_…abcd`
    pub masked: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// An object with the version its row had when read.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

/// A response kept for idempotent replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The answer to an idempotent request, written in the transaction of the change it
/// reports: the object and its replayable answer commit together or not at all. A second
/// request that raced with the same key fails that transaction with
/// `Conflict::IdempotencyKeyInUse` and replays the first one's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentAnswer {
    pub key: String,
    pub fingerprint: String,
    pub response: StoredResponse,
    pub now: paylink_domain::time::Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is ours: run the request, then finish or release it.
    Started,
    /// A request with the same key and body already answered this.
    Replay(StoredResponse),
    /// The same key is being used by a request still running.
    InFlight,
    /// The same key was used for a different request.
    Mismatch,
}

/// Cursor pagination: newest first.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub limit: u32,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Listed<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> Listed<T> {
    /// The same page with each item mapped (records to what the API shows).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listed<U> {
        Listed {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Created {
    pub gte: Option<Timestamp>,
    pub lte: Option<Timestamp>,
}

#[derive(Clone, Debug, Default)]
pub struct ProductFilter {
    pub active: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    pub email: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct TaxRateFilter {
    pub active: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub customer_id: Option<CustomerId>,
}

#[derive(Clone, Debug)]
pub struct LinkFilter {
    pub status: Option<LinkStatus>,
    pub kind: Option<LinkType>,
    pub reference_id: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub created: Created,
    /// Case-insensitive substring of the title.
    pub q: Option<String>,
    /// The time against which `expired` is judged.
    pub now: Timestamp,
}

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub created: Created,
}

/// A checkout to open: the session and what it holds.
#[derive(Clone, Debug)]
pub struct NewCheckout {
    pub session: paylink_domain::checkout::CheckoutSession,
    /// SHA-256 of the client secret; the secret itself is only shown to the customer.
    pub secret_hash: String,
    /// Units of each product to hold (products that track no stock are skipped).
    pub stock: std::collections::BTreeMap<paylink_domain::id::ProductId, u32>,
    /// The link has a payments limit: held uses count, so holds that ran out are released
    /// before this one is taken.
    pub limited_uses: bool,
    /// The link's version the cart was priced from, when the link came from a cache: the
    /// store then opens the session only while the link is still at that version, and
    /// otherwise refuses with `link_changed` (read the link afresh and price again).
    pub link_version: Option<i64>,
    /// The order the link pays: the session holds it, so that an order is paid at most
    /// once whatever the number of its links (`order_paid`, `order_cancelled`,
    /// `order_reserved` otherwise).
    pub order_id: Option<paylink_domain::id::OrderId>,
    pub now: Timestamp,
}

/// A checkout session as the store keeps it, with its tenant and payment attempt.
#[derive(Clone, Debug)]
pub struct CheckoutRecord {
    pub tenant: crate::Tenant,
    pub session: paylink_domain::checkout::CheckoutSession,
    pub secret_hash: String,
    pub attempt_no: i64,
    pub attempt: paylink_domain::states::AttemptState,
    pub attempt_reference: Option<String>,
    /// The first final answer, when the session is complete.
    pub result: Option<StoredResponse>,
}

/// What a pay request may do with a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptClaim {
    /// A new attempt is ours; charge with its key.
    Claimed { attempt_no: i64 },
    /// An earlier attempt was left processing (its request died): reconcile it with the
    /// processor under the same key before anything else.
    Resume { attempt_no: i64 },
    /// Another request is paying this session right now.
    Busy,
    /// Already paid: this is the first answer.
    Finished(StoredResponse),
    /// The session expired; its reservation is released.
    Expired,
}

/// A link as its merchant configured it: what paying and the session's pages need. Its
/// counters and computed status are not read, so `link.stats` and `link.payments_count`
/// are whatever its stored JSON last held; only `status` is the stored column.
#[derive(Clone, Debug)]
pub struct LinkConfig(pub paylink_domain::link::PaymentLink);

/// A successful charge to record ([`crate::CheckoutStore::complete_checkout`]).
#[derive(Clone, Copy, Debug)]
pub struct Completing<'a> {
    /// The session as read when its attempt began.
    pub session: &'a paylink_domain::checkout::CheckoutSession,
    pub attempt_no: i64,
    pub payment: &'a paylink_domain::checkout::Payment,
    /// The customer's answer, kept for replays.
    pub response: &'a StoredResponse,
    /// The token of the payment's receipt URL (`/r/{id}?t={token}`), which the public
    /// receipt page asks for.
    pub receipt_token: Option<&'a str>,
    /// The link's public URL, for its `payment_link.paid` event.
    pub link_url: &'a str,
    /// Whether the link had a `payments_limit` when it was read. It only chooses the
    /// store's path: the store checks the limit again where it counts.
    pub link_limited: bool,
    /// What the link's `amount_collected` gains: the payment's amount when it is in the
    /// link's own currency, nothing in another (those are summed per currency apart).
    pub collected: paylink_domain::money::Amount,
    /// The receipt e-mail queued with the payment (when the customer gave an address and the
    /// merchant sends receipts): [`paylink_domain::email::Email::receipt_of`], which names
    /// the payment and is composed when it is sent.
    pub receipt: Option<&'a paylink_domain::email::Email>,
    /// The order this payment makes (already `paid`), written with it; `None` when it pays
    /// an existing order (`payment.order_id`) or the merchant keeps no orders.
    pub new_order: Option<&'a paylink_domain::catalog::Order>,
    /// The subscription this checkout starts (on a subscription link), written with it.
    pub subscription: Option<crate::NewSubscription<'a>>,
}

/// The result of recording a successful charge.
#[derive(Clone, Debug)]
pub enum Completion {
    /// Recorded now, with its receipt number.
    Recorded(Box<paylink_domain::checkout::Payment>),
    /// Someone recorded the session's payment first: their answer.
    AlreadyComplete(StoredResponse),
}

#[derive(Clone, Debug, Default)]
pub struct PaymentFilter {
    pub payment_link_id: Option<paylink_domain::id::PaymentLinkId>,
    pub status: Option<String>,
    pub created: Created,
    /// The e-mail the customer gave at checkout, compared without case.
    pub customer_email: Option<String>,
}

/// What a merchant took in a window (successful payments, refunded or not): per UTC day
/// and currency, and the links that took most.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaymentsReport {
    /// Days with payments only, oldest first, then by currency.
    pub days: Vec<DayTotal>,
    /// By amount taken, largest first (amounts of different currencies compared as numbers).
    pub top_links: Vec<LinkTotal>,
    /// The window's funnel (the merchant's, not a link's: `None` for a link's report).
    pub funnel: Option<Funnel>,
}

/// Views, checkouts started and payments (failed ones left out) in a window of days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Funnel {
    pub views: i64,
    pub checkouts_started: i64,
    pub payments: i64,
}

/// What needs the merchant's attention, a few of each, each found by an index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attention {
    /// Open links that expire before the horizon, soonest first.
    pub expiring: Vec<LinkUses>,
    /// Open links with a limit and a fifth of their uses or less left, fewest left first.
    pub selling_out: Vec<LinkUses>,
    /// Products with stock counted and `low_stock` units or fewer left, fewest first.
    pub low_stock: Vec<(paylink_domain::id::ProductId, i64)>,
    /// Webhook endpoints disabled or failing: `(id, url, status, failing since)`.
    pub endpoints: Vec<EndpointTrouble>,
    /// E-mails held for want of SMTP (counted up to 100).
    pub held_emails: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkUses {
    pub payment_link_id: paylink_domain::id::PaymentLinkId,
    pub expires_at: Option<paylink_domain::time::Timestamp>,
    pub payments_limit: Option<i64>,
    pub payments_count: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EndpointTrouble {
    pub id: paylink_domain::id::WebhookEndpointId,
    pub url: String,
    pub disabled: bool,
    pub failing_since: Option<paylink_domain::time::Timestamp>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DayTotal {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub currency: String,
    pub count: i64,
    pub amount: i64,
    pub refunded: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkTotal {
    pub payment_link_id: paylink_domain::id::PaymentLinkId,
    pub currency: String,
    pub count: i64,
    pub amount: i64,
}

/// A public link lookup: whose it is, and whether it was deleted.
#[derive(Clone, Debug)]
pub struct PublicLink {
    pub tenant: crate::Tenant,
    pub link: Versioned<paylink_domain::link::PaymentLink>,
    pub deleted: bool,
    /// Uses held by open checkouts.
    pub reserved: i64,
}

/// Stock of one product: sellable now, and held by open checkouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    pub available: Option<i64>,
    pub held: i64,
}

/// One delivery of one event to one endpoint, claimed by a worker.
#[derive(Clone, Debug)]
pub struct DeliveryJob {
    pub delivery_id: String,
    pub tenant: crate::Tenant,
    pub event_id: String,
    /// The event as delivered (its JSON).
    pub body: String,
    pub endpoint_id: String,
    pub url: String,
    /// The current secret, then a rotated-out one while its overlap lasts.
    pub secrets: Vec<String>,
    /// Attempts already made.
    pub attempts: i64,
    pub failing_since: Option<Timestamp>,
}

/// What happened on one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub attempted_at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryNext {
    Succeeded,
    RetryAt(Timestamp),
    /// The schedule is spent: no more attempts.
    Failed,
}
