-- PostgreSQL's 0010 drops the foreign keys from the rows written on every request to
-- merchants and payment links (each check locked the parent row there) and refuses deleting
-- those parents. SQLite keeps its foreign keys (a check is a lookup, with no lock) and
-- refuses the same deletes, so both backends hold the same rule: merchants and payment
-- links are never deleted (links are soft-deleted with `deleted_at`).

CREATE TRIGGER merchants_never_deleted BEFORE DELETE ON merchants
BEGIN
    SELECT RAISE(ABORT, 'rows of merchants are never deleted');
END;

CREATE TRIGGER payment_links_never_deleted BEFORE DELETE ON payment_links
BEGIN
    SELECT RAISE(ABORT, 'rows of payment_links are never deleted');
END;
