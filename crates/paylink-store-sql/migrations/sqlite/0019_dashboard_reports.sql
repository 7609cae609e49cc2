-- The dashboard's home (issue 22): a funnel and "needs attention" that cost the same at a
-- thousand links as at a million, and the payments list's customer filter.

-- Views per merchant, mode and UTC day: added with the links' own counts when the view
-- buffer is flushed (batched, off the request), so the funnel reads a row a day instead of
-- every link. Checkouts started and payments are counted from their own rows, by index.
CREATE TABLE merchant_daily_views (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    day INTEGER NOT NULL,
    views INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, livemode, day)
);

-- Checkouts started in a window, counted from the index alone.
CREATE INDEX checkout_sessions_started ON checkout_sessions (merchant_id, livemode, created_at);

-- A customer's payments by the e-mail given at checkout (as a page of the list, by seq).
CREATE INDEX payments_customer ON payments (merchant_id, livemode, lower(json_extract(data, '$.customer.email')), seq);

-- Links that expire soon, and links with a limit by the uses left: only such links.
CREATE INDEX payment_links_expiring ON payment_links (merchant_id, livemode, expires_at)
    WHERE expires_at IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX payment_links_uses_left ON payment_links (merchant_id, livemode, (payments_limit - payments_count))
    WHERE payments_limit IS NOT NULL AND deleted_at IS NULL;

-- Products whose stock is counted, by what is left.
CREATE INDEX products_stock ON products (merchant_id, livemode, inventory_available)
    WHERE inventory_available IS NOT NULL;

-- E-mails held because no SMTP server is configured.
CREATE INDEX emails_held ON emails (merchant_id, livemode, seq) WHERE status = 'held';
