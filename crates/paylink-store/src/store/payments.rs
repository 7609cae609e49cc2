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
        top: u32,
    ) -> StoreResult<PaymentsReport>;

    /// Records a refund if it keeps the refunded total within the amount paid
    /// (`refund_exceeds_payment`, `payment_not_refundable`); returns the updated payment.
    async fn insert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<Payment>;

    /// Undoes a refund the processor refused.
    async fn revert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<()>;
}
