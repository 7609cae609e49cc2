//! The records of subscriptions: what the store keeps beside the object, a claim, a step.

use paylink_domain::checkout::Payment;
use paylink_domain::email::Email;
use paylink_domain::event::Event;
use paylink_domain::id::{CustomerId, PaymentLinkId};
use paylink_domain::subscription::{Subscription, SubscriptionState, SubscriptionStatus};
use paylink_domain::time::Timestamp;

use crate::Tenant;

/// A subscription with its billing state and what only the server reads.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRecord {
    pub tenant: Tenant,
    pub subscription: Subscription,
    pub state: SubscriptionState,
    /// The processor's reference of the saved payment method.
    pub method_ref: Option<String>,
    /// The test clock's time, once it was advanced.
    pub clock: Option<Timestamp>,
}

/// A claim on a subscription: only its holder changes it, until the claim runs out.
#[derive(Clone, Debug)]
pub struct SubscriptionClaim {
    pub record: SubscriptionRecord,
    /// Names this claim (random): a step is written only while it is held.
    pub token: String,
}

/// A subscription made by a checkout, written with the checkout's payment.
#[derive(Clone, Copy, Debug)]
pub struct NewSubscription<'a> {
    pub subscription: &'a Subscription,
    pub state: &'a SubscriptionState,
    /// The saved payment method renewals charge (none when it could not be learnt).
    pub method_ref: Option<&'a str>,
    /// Its events (`subscription.created`).
    pub events: &'a [Event],
}

/// One step of a claim's holder (see `SubscriptionStore::record_subscription_step`).
#[derive(Clone, Debug)]
pub struct SubscriptionStep<'a> {
    /// The object as it now shows (`Subscription::show` of `state`).
    pub subscription: &'a Subscription,
    pub state: &'a SubscriptionState,
    /// A new saved payment method's reference; `None` keeps the one there.
    pub method_ref: Option<&'a str>,
    /// The test clock's new time; `None` keeps it.
    pub clock: Option<Timestamp>,
    /// The charge this step made, with its receipt's token when it succeeded.
    pub payment: Option<&'a Payment>,
    pub receipt_token: Option<&'a str>,
    /// `subscription.*` events (payment events are the store's).
    pub events: &'a [Event],
    pub emails: &'a [Email],
    /// Keep the claim until then; `None` lets it go.
    pub keep_until: Option<Timestamp>,
}

#[derive(Clone, Debug, Default)]
pub struct SubscriptionFilter {
    pub status: Option<SubscriptionStatus>,
    pub payment_link_id: Option<PaymentLinkId>,
    pub customer_id: Option<CustomerId>,
}
