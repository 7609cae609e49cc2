//! A merchant's processor credentials, the Stripe PaymentIntents of checkout sessions, and
//! what Stripe told us (events seen, disputes).

use async_trait::async_trait;

use crate::*;
use paylink_domain::{event::Event, id::*, time::Timestamp};

/// What a processor other than the simulated one needs to act for a merchant in one mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorCredentials {
    /// `stripe`.
    pub processor: String,
    /// Public by design (Stripe.js runs with it in the customer's browser): kept plain.
    pub publishable_key: String,
    /// The secrets (secret key, webhook signing secret), sealed by the server under the
    /// master key; the store never sees them open.
    pub sealed: String,
    /// What the merchant is shown of the secrets, e.g. `sk_test_…4242` (never enough to
    /// use them).
    pub masked_secret_key: String,
    pub masked_webhook_secret: String,
    pub updated_at: Timestamp,
}

/// The Stripe PaymentIntent that pays a checkout session: one per session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeIntent {
    pub checkout_session_id: CheckoutSessionId,
    /// `pi_…`.
    pub intent_id: String,
    /// The PaymentIntent's client secret for Stripe.js, sealed (it lets a browser confirm
    /// the payment).
    pub client_secret_sealed: String,
    pub created_at: Timestamp,
    /// When the worker next asks Stripe what became of it (see
    /// [`ProcessorStore::due_stripe_intents`]).
    pub check_after: Timestamp,
}

#[async_trait]
pub trait ProcessorStore: Send + Sync {
    /// Sets the tenant's credentials for `c.processor`, replacing earlier ones.
    async fn put_processor_credentials(
        &self,
        t: &Tenant,
        c: &ProcessorCredentials,
    ) -> StoreResult<()>;

    async fn get_processor_credentials(
        &self,
        t: &Tenant,
        processor: &str,
    ) -> StoreResult<Option<ProcessorCredentials>>;

    /// Records the session's PaymentIntent. When the session has one already (two requests
    /// raced to make it), that first one is kept and returned; otherwise `i` is.
    /// `not_found` when the session is not the tenant's.
    async fn put_stripe_intent(&self, t: &Tenant, i: &StripeIntent) -> StoreResult<StripeIntent>;

    /// The session's PaymentIntent, with the session's tenant.
    async fn get_stripe_intent(
        &self,
        session: &CheckoutSessionId,
    ) -> StoreResult<Option<(Tenant, StripeIntent)>>;

    /// Up to `limit` open PaymentIntents (every merchant) whose `check_after` is at or
    /// before `now`, earliest first; each one's `check_after` is moved to `next` in the same
    /// write, so two workers never take the same one in one round.
    async fn due_stripe_intents(
        &self,
        now: Timestamp,
        next: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(Tenant, StripeIntent)>>;

    /// The session's PaymentIntent needs no more checks (its payment is recorded, or it
    /// was cancelled). Idempotent.
    async fn close_stripe_intent(&self, session: &CheckoutSessionId) -> StoreResult<()>;

    /// Notes a failure Stripe reported for the session's PaymentIntent, named by `key` (the
    /// failed charge, or the payment method tried): `true` when it differs from the last one
    /// noted, so that one decline is recorded once however often it is read.
    async fn note_stripe_failure(
        &self,
        session: &CheckoutSessionId,
        key: &str,
    ) -> StoreResult<bool>;

    /// Whether this Stripe event was handled already for the merchant.
    async fn stripe_event_seen(&self, merchant: &MerchantId, event_id: &str) -> StoreResult<bool>;

    /// Remembers a handled Stripe event (idempotent).
    async fn record_stripe_event(
        &self,
        merchant: &MerchantId,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// Marks a payment disputed and writes `event` (`payment.disputed`) with it, once:
    /// `false` (nothing written) when it was disputed already. `not_found` for another
    /// tenant's payment.
    async fn mark_payment_disputed(
        &self,
        t: &Tenant,
        id: &PaymentId,
        event: &Event,
    ) -> StoreResult<bool>;
}
