-- An order is paid at most once. A checkout on any link of an order holds the order
-- (`held_by`: the session), as a payments limit holds a use; the session names its order
-- so that ending it (expiry, or the order's cancellation) gives the order back.
ALTER TABLE orders ADD COLUMN held_by TEXT;
ALTER TABLE checkout_sessions ADD COLUMN order_id TEXT;

-- Receipts go out by themselves: a successful payment with the customer's e-mail is written
-- `pending`, in the payment's own write; the worker composes its e-mail into the outbox and
-- marks it `queued` (or `off` when the merchant turned receipts off) in one transaction.
ALTER TABLE payments ADD COLUMN receipt_status TEXT;
CREATE INDEX payments_receipts_due ON payments (seq) WHERE receipt_status = 'pending';

-- A link may be paid in several currencies: each payment names its own, so a link's takings
-- are summed per currency (its row's `amount_collected` counts its own currency only).
ALTER TABLE payments ADD COLUMN currency TEXT;
UPDATE payments SET currency = json_extract(data, '$.currency');
