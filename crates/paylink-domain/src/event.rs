//! Events: what happened to a merchant's objects, recorded in the same transaction as the
//! change (the outbox) and later delivered to webhook endpoints.

use serde::{Deserialize, Serialize};

use crate::id::EventId;
use crate::time::Timestamp;

/// Every event type the contract names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "payment_link.created")]
    PaymentLinkCreated,
    #[serde(rename = "payment_link.updated")]
    PaymentLinkUpdated,
    #[serde(rename = "payment_link.activated")]
    PaymentLinkActivated,
    #[serde(rename = "payment_link.deactivated")]
    PaymentLinkDeactivated,
    #[serde(rename = "payment_link.cancelled")]
    PaymentLinkCancelled,
    #[serde(rename = "payment_link.deleted")]
    PaymentLinkDeleted,
    #[serde(rename = "payment_link.expired")]
    PaymentLinkExpired,
    #[serde(rename = "payment_link.paid")]
    PaymentLinkPaid,
    #[serde(rename = "payment_link.sent")]
    PaymentLinkSent,
    #[serde(rename = "checkout_session.completed")]
    CheckoutSessionCompleted,
    #[serde(rename = "checkout_session.expired")]
    CheckoutSessionExpired,
    #[serde(rename = "payment.succeeded")]
    PaymentSucceeded,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
    /// The customer disputed the payment with their bank (a chargeback): the processor
    /// said so.
    #[serde(rename = "payment.disputed")]
    PaymentDisputed,
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "subscription.created")]
    SubscriptionCreated,
    #[serde(rename = "subscription.trial_will_end")]
    SubscriptionTrialWillEnd,
    #[serde(rename = "subscription.renewed")]
    SubscriptionRenewed,
    #[serde(rename = "subscription.payment_failed")]
    SubscriptionPaymentFailed,
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled,
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled,
}

impl EventType {
    pub const ALL: [EventType; 23] = {
        use EventType::*;
        [
            PaymentLinkCreated,
            PaymentLinkUpdated,
            PaymentLinkActivated,
            PaymentLinkDeactivated,
            PaymentLinkCancelled,
            PaymentLinkDeleted,
            PaymentLinkExpired,
            PaymentLinkPaid,
            PaymentLinkSent,
            CheckoutSessionCompleted,
            CheckoutSessionExpired,
            PaymentSucceeded,
            PaymentFailed,
            PaymentRefunded,
            PaymentDisputed,
            OrderCreated,
            OrderPaid,
            SubscriptionCreated,
            SubscriptionTrialWillEnd,
            SubscriptionRenewed,
            SubscriptionPaymentFailed,
            SubscriptionCanceled,
            WebhookEndpointDisabled,
        ]
    };

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        use EventType::*;
        match self {
            PaymentLinkCreated => "payment_link.created",
            PaymentLinkUpdated => "payment_link.updated",
            PaymentLinkActivated => "payment_link.activated",
            PaymentLinkDeactivated => "payment_link.deactivated",
            PaymentLinkCancelled => "payment_link.cancelled",
            PaymentLinkDeleted => "payment_link.deleted",
            PaymentLinkExpired => "payment_link.expired",
            PaymentLinkPaid => "payment_link.paid",
            PaymentLinkSent => "payment_link.sent",
            CheckoutSessionCompleted => "checkout_session.completed",
            CheckoutSessionExpired => "checkout_session.expired",
            PaymentSucceeded => "payment.succeeded",
            PaymentFailed => "payment.failed",
            PaymentRefunded => "payment.refunded",
            PaymentDisputed => "payment.disputed",
            OrderCreated => "order.created",
            OrderPaid => "order.paid",
            SubscriptionCreated => "subscription.created",
            SubscriptionTrialWillEnd => "subscription.trial_will_end",
            SubscriptionRenewed => "subscription.renewed",
            SubscriptionPaymentFailed => "subscription.payment_failed",
            SubscriptionCanceled => "subscription.canceled",
            WebhookEndpointDisabled => "webhook_endpoint.disabled",
        }
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventData {
    /// The object as it was right after the change.
    pub object: serde_json::Value,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "event")]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub data: EventData,
    pub livemode: bool,
    pub created_at: Timestamp,
}

impl Event {
    /// A new event about `object`, to be written with the change that caused it.
    pub fn new<T: Serialize>(kind: EventType, object: &T, livemode: bool, now: Timestamp) -> Self {
        Self {
            id: EventId::generate(),
            kind,
            data: EventData {
                object: serde_json::to_value(object).unwrap_or(serde_json::Value::Null),
            },
            livemode,
            created_at: now,
        }
    }
}
