//! The checkout's state machines: a session's payment attempt and a payment's refunds.
//!
//! The store writes these transitions with guards of its own (a conditional `UPDATE`), but
//! only to stay correct under concurrency: which transitions exist is decided here, and the
//! store's guards are derived from these rules (see `paylink-store-sql`'s `attempt_in`).

use crate::checkout::PaymentStatus;
use crate::money::Amount;

/// Where an open session's payment attempt stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AttemptState {
    /// No charge under way: the customer may pay.
    Idle,
    /// The processor is being called: nothing else may touch the session.
    Processing,
    /// The processor waits for the customer (3-D Secure).
    RequiresAction,
}

impl AttemptState {
    pub const ALL: [AttemptState; 3] = [Self::Idle, Self::Processing, Self::RequiresAction];

    /// As stored: `NULL` when idle.
    pub fn as_stored(self) -> Option<&'static str> {
        match self {
            Self::Idle => None,
            Self::Processing => Some("processing"),
            Self::RequiresAction => Some("requires_action"),
        }
    }

    pub fn from_stored(s: Option<&str>) -> Option<Self> {
        Some(match s {
            None => Self::Idle,
            Some("processing") => Self::Processing,
            Some("requires_action") => Self::RequiresAction,
            Some(_) => return None,
        })
    }

    /// A new attempt may begin (no charge is under way; one waiting for the customer is
    /// abandoned for the new one).
    pub fn may_begin(self) -> bool {
        self != Self::Processing
    }

    /// The session may be ended (expired, or ended by a changed retry): never while a
    /// charge is under way, whose outcome decides.
    pub fn may_end(self) -> bool {
        self != Self::Processing
    }

    /// The charge under way now waits for the customer.
    pub fn may_require_action(self) -> bool {
        self == Self::Processing
    }

    /// The customer came back from their action: the charge resumes.
    pub fn may_resume_action(self) -> bool {
        self == Self::RequiresAction
    }

    /// The session may complete with a payment (only the attempt that charged).
    pub fn may_complete(self) -> bool {
        self == Self::Processing
    }
}

/// Why a refund cannot be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RefundRefusal {
    /// The payment failed, or is refunded in full.
    NotRefundable,
    /// It would give back more than was paid.
    ExceedsPayment,
    /// It would give back nothing.
    Empty,
}

/// A refund of `amount` on a payment of `paid` in `status` with `refunded` given back so
/// far: the new refunded total and status, or why not.
pub fn refund(
    status: PaymentStatus,
    paid: Amount,
    refunded: Amount,
    amount: Amount,
) -> Result<(Amount, PaymentStatus), RefundRefusal> {
    if !matches!(
        status,
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
    ) {
        return Err(RefundRefusal::NotRefundable);
    }
    if amount == Amount::ZERO {
        return Err(RefundRefusal::Empty);
    }
    let total = refunded
        .checked_add(amount)
        .filter(|t| *t <= paid)
        .ok_or(RefundRefusal::ExceedsPayment)?;
    Ok((total, PaymentStatus::after_refunds(paid, total)))
}

/// A refund the processor refused, taken back: the refunded total and status before it.
pub fn unrefund(paid: Amount, refunded: Amount, amount: Amount) -> (Amount, PaymentStatus) {
    let total = refunded.checked_sub(amount).unwrap_or(Amount::ZERO);
    (total, PaymentStatus::after_refunds(paid, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: i64) -> Amount {
        Amount::new(n).unwrap()
    }

    #[test]
    fn stored_attempt_states_round_trip() {
        for s in AttemptState::ALL {
            assert_eq!(AttemptState::from_stored(s.as_stored()), Some(s));
        }
        assert_eq!(AttemptState::from_stored(Some("done")), None);
    }

    #[test]
    fn refunds_stay_within_what_was_paid() {
        use PaymentStatus::*;
        assert_eq!(
            refund(Succeeded, a(1000), a(0), a(400)),
            Ok((a(400), PartiallyRefunded))
        );
        assert_eq!(
            refund(PartiallyRefunded, a(1000), a(400), a(600)),
            Ok((a(1000), Refunded))
        );
        assert_eq!(
            refund(PartiallyRefunded, a(1000), a(400), a(601)),
            Err(RefundRefusal::ExceedsPayment)
        );
        assert_eq!(
            refund(Refunded, a(1000), a(1000), a(1)),
            Err(RefundRefusal::NotRefundable)
        );
        assert_eq!(
            refund(Failed, a(1000), a(0), a(1)),
            Err(RefundRefusal::NotRefundable)
        );
        assert_eq!(
            refund(Succeeded, a(1000), a(0), a(0)),
            Err(RefundRefusal::Empty)
        );
        assert_eq!(
            refund(Refunded, a(1000), a(1000), a(0)),
            Err(RefundRefusal::NotRefundable),
            "a payment refunded in full is not refundable, whatever the amount"
        );
        assert_eq!(
            refund(Succeeded, Amount::MAX, a(0), Amount::MAX),
            Ok((Amount::MAX, Refunded))
        );
        assert_eq!(
            unrefund(a(1000), a(1000), a(600)),
            (a(400), PartiallyRefunded)
        );
        assert_eq!(unrefund(a(1000), a(400), a(400)), (a(0), Succeeded));
    }
}
