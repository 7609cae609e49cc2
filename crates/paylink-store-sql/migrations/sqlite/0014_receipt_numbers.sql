-- Receipt numbers become a column: the number a payment took (`receipt_seq`), kept on the
-- payment and on the event that announced it. Readers format it (`R-000042`, in
-- paylink_domain::checkout::receipt_number); no JSON is rewritten as it is written.
-- Rows written before keep the number inside their JSON, and no `receipt_seq`.
ALTER TABLE payments ADD COLUMN receipt_seq INTEGER;
ALTER TABLE events ADD COLUMN receipt_seq INTEGER;
