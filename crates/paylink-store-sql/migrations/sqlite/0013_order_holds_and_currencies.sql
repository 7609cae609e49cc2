-- An order is paid at most once. A checkout on any link of an order holds the order
-- (`held_by`: the session), as a payments limit holds a use; the session names its order
-- so that ending it (expiry, or the order's cancellation) gives the order back.
ALTER TABLE orders ADD COLUMN held_by TEXT;
ALTER TABLE checkout_sessions ADD COLUMN order_id TEXT;

-- A link may be paid in several currencies: each payment names its own, so a link's takings
-- are summed per currency (its row's `amount_collected` counts its own currency only).
ALTER TABLE payments ADD COLUMN currency TEXT;
UPDATE payments SET currency = json_extract(data, '$.currency');
