-- PostgreSQL's 0009 moves receipt numbers to a sequence per merchant. SQLite keeps
-- `merchants.receipt_seq`: with one writer at a time there is no queue on the row to
-- avoid. This keeps the two backends' migration numbers in step.
SELECT 1;
