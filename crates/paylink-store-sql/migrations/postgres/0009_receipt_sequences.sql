-- Receipt numbers on PostgreSQL come from a sequence per merchant instead of
-- `merchants.receipt_seq`. A sequence hands out numbers without a row lock, so a payment
-- takes its number inside the statement that records it: every payment of a merchant no
-- longer queues on the merchant's row (and its flush), and the number costs no statement
-- of its own. As before, a payment that fails to record after taking its number leaves a
-- gap; numbers stay unique and increasing per merchant. SQLite keeps `receipt_seq` (one
-- writer at a time has no queue to avoid).

-- The sequence's name, quoted, for a merchant id.
CREATE FUNCTION paylink_receipts(merchant TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$ SELECT quote_ident('paylink_receipts_' || merchant) $$;

-- Creates a merchant's sequence, whose first number is `first`.
CREATE FUNCTION paylink_receipts_create(merchant TEXT, first BIGINT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    EXECUTE format('CREATE SEQUENCE %s START WITH %s', paylink_receipts(merchant), first);
    RETURN first;
END
$$;

-- The merchant's next receipt number.
CREATE FUNCTION paylink_next_receipt(merchant TEXT) RETURNS BIGINT
LANGUAGE sql VOLATILE AS $$ SELECT nextval(paylink_receipts(merchant)::regclass) $$;

-- `R-000042`: at least six digits, as the server formats it (`R-{n:06}`).
CREATE FUNCTION paylink_receipt_number(n BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'R-' || CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END
$$;

SELECT paylink_receipts_create(id, receipt_seq + 1) FROM merchants;
