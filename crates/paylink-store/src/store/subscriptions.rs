//! Subscriptions: made by a checkout, then changed only by whoever holds their claim.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{checkout::Payment, id::*, time::Timestamp};

/// Subscriptions: made by a checkout ([`Completing::subscription`]), then changed one step
/// at a time by the holder of their claim: a worker renewing, a test clock, a cancellation,
/// the customer changing their card. A claim runs out at `until`, so one left by a killed
/// process passes to the next claimer, who repeats the step under the same processor key.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Writes a subscription made elsewhere than a checkout (an import from another
    /// system, a benchmark's seed) with its events. Conflict `duplicate_object` when its id
    /// is taken.
    async fn insert_subscription(&self, t: &Tenant, n: &NewSubscription<'_>) -> StoreResult<()>;

    async fn get_subscription(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
    ) -> StoreResult<SubscriptionRecord>;

    /// A subscription found by id alone, for the customer's self-service page (reached
    /// through a signed link), with its tenant.
    async fn get_subscription_public(&self, id: &SubscriptionId)
        -> StoreResult<SubscriptionRecord>;

    async fn list_subscriptions(
        &self,
        t: &Tenant,
        f: &SubscriptionFilter,
        page: &Page,
    ) -> StoreResult<Listed<paylink_domain::subscription::Subscription>>;

    /// The subscription's payments (the first and every renewal, failed ones too), newest
    /// first, at most `limit`.
    async fn subscription_payments(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
        limit: u32,
    ) -> StoreResult<Vec<Payment>>;

    /// Claims the subscription until `until` unless someone else holds it (`None`).
    async fn claim_subscription(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Option<SubscriptionClaim>>;

    /// Claims up to `limit` subscriptions (every merchant) with something due at `now`
    /// that nobody holds, earliest due first. Two callers never get the same one.
    async fn claim_due_subscriptions(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<SubscriptionClaim>>;

    /// Writes one step of the claim's holder: the new state and object, the payment it made
    /// (a successful one takes its receipt number, with `payment.succeeded`; a failed one
    /// `payment.failed`), its events and e-mails, in one transaction; the claim is kept
    /// (until `step.until`) or let go. Conflict `concurrent_update` when the claim is no
    /// longer held by `claim.token`; nothing is written then.
    async fn record_subscription_step(
        &self,
        claim: &SubscriptionClaim,
        step: &SubscriptionStep<'_>,
    ) -> StoreResult<Option<Payment>>;

    /// Keeps a claim that is still held until `until`, checked and extended in one write:
    /// `false` when it ran out at `now` or passed to someone else (the holder then must not
    /// act: no charge is made on a claim that may be another's).
    async fn renew_subscription_claim(
        &self,
        claim: &SubscriptionClaim,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;

    /// Lets go of a claim without a change.
    async fn release_subscription(&self, claim: &SubscriptionClaim) -> StoreResult<()>;
}
