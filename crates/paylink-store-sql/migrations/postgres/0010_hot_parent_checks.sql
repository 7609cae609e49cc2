-- The rows written on every request stop carrying foreign keys to the rows that all of a
-- merchant's requests share. PostgreSQL checks a foreign key by locking the parent row
-- (`FOR KEY SHARE`: WAL-logged, and a MultiXact once two writers hold it) for every row
-- inserted, so each link, event, checkout session and payment of a merchant took a lock on
-- the merchant's row, and each checkout session one on its link's: every write of a
-- merchant took its turn on one row. What those keys guarded still holds:
-- - parents are never deleted: merchants have no delete, links are soft-deleted
--   (`deleted_at`), and the triggers below refuse a DELETE or TRUNCATE of either;
-- - every insert names a parent that the same request authenticated (the API key's
--   merchant) or read in the same statement or transaction (the link).
-- Foreign keys off the hot paths stay. SQLite keeps all of its own (a check there is a
-- lookup, with no lock), so the shared conformance tests still catch a wrong parent.

ALTER TABLE payment_links DROP CONSTRAINT payment_links_merchant_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_merchant_id_fkey;
ALTER TABLE checkout_sessions DROP CONSTRAINT checkout_sessions_merchant_id_fkey;
ALTER TABLE checkout_sessions DROP CONSTRAINT checkout_sessions_payment_link_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_merchant_id_fkey;

CREATE FUNCTION paylink_never_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never deleted', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER merchants_never_deleted BEFORE DELETE ON merchants
    FOR EACH ROW EXECUTE FUNCTION paylink_never_deleted();
CREATE TRIGGER merchants_never_truncated BEFORE TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION paylink_never_deleted();
CREATE TRIGGER payment_links_never_deleted BEFORE DELETE ON payment_links
    FOR EACH ROW EXECUTE FUNCTION paylink_never_deleted();
CREATE TRIGGER payment_links_never_truncated BEFORE TRUNCATE ON payment_links
    FOR EACH STATEMENT EXECUTE FUNCTION paylink_never_deleted();
