//! Why the store refused a write: every reason a caller may act on, by name.

/// A uniqueness or state guard refused the write. Each has a stable, client-safe
/// [`code`](Conflict::code), which the server answers with (`409` unless it knows better).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// Another link of any merchant has this slug.
    SlugTaken,
    /// An idempotency key already answered (or in flight) for this tenant.
    IdempotencyKeyInUse,
    /// Another unique value (an id) is taken.
    DuplicateObject,
    /// The object changed since it was read (optimistic concurrency); read it again.
    ConcurrentUpdate,
    /// The mode's last active secret key cannot be revoked.
    LastSecretKey,
    /// The link has payments: this change or deletion would rewrite what was sold.
    PaymentLinkHasPayments,
    /// The cart was priced from a link version that is no longer current.
    LinkChanged,
    /// The link is not open to buyers (inactive, cancelled, expired or deleted).
    LinkInactive,
    /// The link's payment limit is reached.
    LinkUsedUp,
    /// The link's remaining uses are all held by open checkouts.
    LinkFullyReserved,
    /// A new `payments_limit` is below the link's payments plus the uses open checkouts hold.
    PaymentsLimitBelowReserved,
    /// A product has no stock left.
    SoldOut,
    /// A product's remaining stock is held by open checkouts.
    StockReserved,
    /// Stock would go below zero (a guard of the database).
    OutOfStock,
    /// The link's order is gone.
    OrderNotFound,
    OrderPaid,
    OrderCancelled,
    /// Another checkout holds the order.
    OrderReserved,
    /// The order is being paid right now: its payment decides.
    OrderBeingPaid,
    /// The checkout session is no longer open.
    CheckoutNotOpen,
    /// The refund would take the refunded total past the amount paid.
    RefundExceedsPayment,
    /// The payment failed or is refunded in full.
    PaymentNotRefundable,
    /// The change would leave the merchant without an owner.
    LastOwner,
}

impl Conflict {
    /// The API's error code for it.
    pub fn code(self) -> &'static str {
        use Conflict::*;
        match self {
            SlugTaken => "slug_taken",
            IdempotencyKeyInUse => "idempotency_key_in_use",
            DuplicateObject => "duplicate_object",
            ConcurrentUpdate => "concurrent_update",
            LastSecretKey => "last_secret_key",
            PaymentLinkHasPayments => "payment_link_has_payments",
            LinkChanged => "link_changed",
            LinkInactive => "link_inactive",
            LinkUsedUp => "link_used_up",
            LinkFullyReserved => "link_fully_reserved",
            PaymentsLimitBelowReserved => "payments_limit_below_reserved",
            SoldOut => "sold_out",
            StockReserved => "stock_reserved",
            OutOfStock => "out_of_stock",
            OrderNotFound => "order_not_found",
            OrderPaid => "order_paid",
            OrderCancelled => "order_cancelled",
            OrderReserved => "order_reserved",
            OrderBeingPaid => "order_being_paid",
            CheckoutNotOpen => "checkout_not_open",
            RefundExceedsPayment => "refund_exceeds_payment",
            PaymentNotRefundable => "payment_not_refundable",
            LastOwner => "last_owner",
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
