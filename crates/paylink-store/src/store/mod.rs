//! The [`Store`](crate::Store) trait, split by aggregate: one trait per kind of object,
//! each in its own file, and `Store` the sum of them.

mod accounts;
mod catalog;
mod checkout;
mod emails;
mod events;
mod idempotency;
mod links;
mod merchants;
mod orders;
mod payments;
mod processes;
mod processors;
mod subscriptions;
mod webhooks;

pub use accounts::AccountStore;
pub use catalog::CatalogStore;
pub use checkout::CheckoutStore;
pub use emails::EmailStore;
pub use events::EventStore;
pub use idempotency::IdempotencyStore;
pub use links::LinkStore;
pub use merchants::MerchantStore;
pub use orders::OrderStore;
pub use payments::PaymentStore;
pub use processes::{ChangeFeed, ProcessStore};
pub use processors::{ProcessorCredentials, ProcessorStore, StripeIntent};
pub use subscriptions::SubscriptionStore;
pub use webhooks::WebhookStore;
