-- Most links have neither a reference nor an expiry: index only the ones that do. Each
-- link created then costs two index insertions fewer, and a lookup of a link by id can no
-- longer be planned as a scan of the merchant's references (see `Sql::owned_by`).
-- Lookups by reference (`reference_id = …`) and the expiry sweep (`expires_at <= …`)
-- imply the new conditions, so both indexes still serve them.
DROP INDEX payment_links_reference;
CREATE INDEX payment_links_reference ON payment_links (merchant_id, livemode, reference_id)
    WHERE reference_id IS NOT NULL;
DROP INDEX payment_links_expiry;
CREATE INDEX payment_links_expiry ON payment_links (expires_at)
    WHERE expires_at IS NOT NULL AND expired_event_at IS NULL AND deleted_at IS NULL;
