//! Payments and their refunds.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{checkout::*, id::*};

/// Payments and their refunds.
#[async_trait]
pub trait PaymentStore: Send + Sync {
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

    /// The successful payments made at or after `since`, by day and currency, and the
    /// `top` links that took most. Reads only the window's payments (however many came
    /// before), found from the newest back.
    async fn payments_report(
        &self,
        t: &Tenant,
        since: paylink_domain::time::Timestamp,
        link: Option<&PaymentLinkId>,
        top: u32,
    ) -> StoreResult<PaymentsReport>;

    /// What needs attention ([`Attention`]): links open at `now` that expire before
    /// `horizon` or have few uses left, products with `low_stock` units or fewer, failing
    /// webhook endpoints and held e-mails; `limit` of each list.
    async fn attention(
        &self,
        t: &Tenant,
        now: paylink_domain::time::Timestamp,
        horizon: paylink_domain::time::Timestamp,
        low_stock: i64,
        limit: u32,
    ) -> StoreResult<Attention>;

    /// Records a refund if it keeps the refunded total within the amount paid
    /// (`refund_exceeds_payment`, `payment_not_refundable`); returns the updated payment.
    async fn insert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<Payment>;

    /// Undoes a refund the processor refused.
    async fn revert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<()>;
}
