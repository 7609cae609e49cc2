//! The storage boundary of Paylink: one trait, its error type, and the records it keeps.
//!
//! Every method that touches a merchant's data takes a [`Tenant`], so a query that forgets
//! the merchant or the mode cannot be written. Methods that change state take the events
//! the change causes and write them in the same transaction (the outbox).
//!
//! [`conformance`] holds the story that every backend must pass.

mod conflict;
pub mod conformance;
mod records;
pub mod store;

pub use conflict::Conflict;
pub use store::*;

pub use records::*;

use paylink_domain::id::*;

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
    /// A uniqueness or state guard refused the write, and why.
    #[error("conflict: {0}")]
    Conflict(Conflict),
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

/// Everything Paylink keeps, one trait per aggregate (see [`store`](crate::store)). A backend
/// implements each of them; `Store` is their sum, what the server holds as `Arc<dyn Store>`.
/// Callers bring the aggregates' traits into scope with `use paylink_store::prelude::*`.
pub trait Store:
    ProcessStore
    + MerchantStore
    + IdempotencyStore
    + CatalogStore
    + OrderStore
    + LinkStore
    + CheckoutStore
    + PaymentStore
    + WebhookStore
    + EmailStore
    + EventStore
    + Send
    + Sync
    + 'static
{
}

impl<S> Store for S where
    S: ProcessStore
        + MerchantStore
        + IdempotencyStore
        + CatalogStore
        + OrderStore
        + LinkStore
        + CheckoutStore
        + PaymentStore
        + WebhookStore
        + EmailStore
        + EventStore
        + Send
        + Sync
        + 'static
{
}

/// The aggregates' traits, for calling the store's methods.
pub mod prelude {
    pub use crate::store::{
        CatalogStore, CheckoutStore, EmailStore, EventStore, IdempotencyStore, LinkStore,
        MerchantStore, OrderStore, PaymentStore, ProcessStore, WebhookStore,
    };
    pub use crate::Store;
}
