//! The storage boundary of Paylink: one trait, its error type, and the records it keeps.
//!
//! Every method that touches a merchant's data takes a [`Tenant`], so a query that forgets
//! the merchant or the mode cannot be written. Methods that change state take the events
//! the change causes and write them in the same transaction (the outbox).
//!
//! [`conformance`] holds the story that every backend must pass.

mod accounts;
mod conflict;
pub mod conformance;
mod records;
pub mod store;
mod subscriptions;

pub use conflict::Conflict;
pub use store::*;

pub use accounts::*;
pub use records::*;
pub use subscriptions::*;

use paylink_domain::id::*;

/// Whose data, in which mode. Its fields are private: a tenant comes from a credential the
/// store authenticated ([`Tenant::of_key`]), from a merchant record the store holds
/// ([`Tenant::of_merchant`]), or from a row a backend read ([`Tenant::stored`]) — never
/// from what a request says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    merchant_id: MerchantId,
    livemode: bool,
}

impl Tenant {
    /// The tenant an API key acts for (the key was found by its hash).
    pub fn of_key(key: &ApiKeyRecord) -> Self {
        Self::stored(key.merchant_id.clone(), key.livemode)
    }

    /// The tenant a signed-in session acts for (the session was found by its token's hash),
    /// in the mode the request chose.
    pub fn of_session(s: &SignedIn, livemode: bool) -> Self {
        Self::stored(s.session.merchant_id.clone(), livemode)
    }

    /// A merchant's data in one mode.
    pub fn of_merchant(m: &Merchant, livemode: bool) -> Self {
        Self::stored(m.id.clone(), livemode)
    }

    /// For backends: the tenant a stored row names.
    pub fn stored(merchant_id: MerchantId, livemode: bool) -> Self {
        Self {
            merchant_id,
            livemode,
        }
    }

    pub fn merchant_id(&self) -> &MerchantId {
        &self.merchant_id
    }

    pub fn livemode(&self) -> bool {
        self.livemode
    }
}

/// Whose idempotency keys these are: two scopes never see each other's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyScope {
    /// A merchant's requests in one mode.
    Tenant(Tenant),
    /// The customer side, where nobody signs in: one client address's requests.
    Client(std::net::IpAddr),
}

impl IdempotencyScope {
    pub fn of(t: &Tenant) -> Self {
        Self::Tenant(t.clone())
    }

    /// How the scope is stored: the owner (`merchant_id` column) and the mode. A client's
    /// owner is `public:{ip}`, which no merchant id can be (ids are `acct_` + base62).
    pub fn owner(&self) -> (std::borrow::Cow<'_, str>, bool) {
        match self {
            Self::Tenant(t) => (t.merchant_id.as_str().into(), t.livemode),
            Self::Client(ip) => (format!("public:{ip}").into(), false),
        }
    }
}

impl std::fmt::Display for IdempotencyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (owner, livemode) = self.owner();
        write!(f, "{owner}:{livemode}")
    }
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

/// `Store`, the sum of the aggregates' traits, and the prelude that names them: the list
/// is written once.
macro_rules! store_of {
    ($($aggregate:ident),+ $(,)?) => {
        /// Everything Paylink keeps, one trait per aggregate (see [`store`](crate::store)).
        /// A backend implements each of them; `Store` is their sum, what the server holds
        /// as `Arc<dyn Store>` (whose methods need no import). Code holding a concrete
        /// backend brings the traits into scope with `use paylink_store::prelude::*`.
        pub trait Store: $($aggregate +)+ Send + Sync + 'static {}

        impl<S> Store for S where S: $($aggregate +)+ Send + Sync + 'static {}

        /// The aggregates' traits, for calling a concrete store's methods.
        pub mod prelude {
            pub use crate::store::{$($aggregate),+};
            pub use crate::Store;
        }
    };
}

store_of!(
    ProcessStore,
    MerchantStore,
    IdempotencyStore,
    CatalogStore,
    OrderStore,
    LinkStore,
    CheckoutStore,
    PaymentStore,
    SubscriptionStore,
    ProcessorStore,
    WebhookStore,
    EmailStore,
    EventStore,
    AccountStore,
);
