-- Merchants, keys, catalog, payment links, the event outbox and idempotency keys.
-- Times are Unix seconds; money is integer minor units; objects keep their API shape in
-- `data` (JSON) beside the columns that queries filter on or update atomically.

CREATE TABLE merchants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    settings TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    masked TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, seq);

CREATE TABLE products (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL,
    inventory_available INTEGER CHECK (inventory_available >= 0),
    data TEXT NOT NULL
);
CREATE INDEX products_list ON products (merchant_id, livemode, seq);

CREATE TABLE customers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    email TEXT,
    data TEXT NOT NULL
);
CREATE INDEX customers_list ON customers (merchant_id, livemode, seq);

CREATE TABLE tax_rates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX tax_rates_list ON tax_rates (merchant_id, livemode, seq);

CREATE TABLE orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    customer_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX orders_list ON orders (merchant_id, livemode, seq);

CREATE TABLE payment_links (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    slug TEXT NOT NULL CONSTRAINT payment_links_slug_key UNIQUE,
    status TEXT NOT NULL,
    type TEXT NOT NULL,
    title_lower TEXT NOT NULL,
    reference_id TEXT,
    customer_id TEXT,
    expires_at INTEGER,
    opens_at INTEGER,
    payments_limit INTEGER,
    payments_count INTEGER NOT NULL DEFAULT 0,
    reserved_count INTEGER NOT NULL DEFAULT 0,
    views INTEGER NOT NULL DEFAULT 0,
    checkouts_started INTEGER NOT NULL DEFAULT 0,
    amount_collected INTEGER NOT NULL DEFAULT 0,
    expired_event_at INTEGER,
    deleted_at INTEGER,
    version INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX payment_links_list ON payment_links (merchant_id, livemode, seq);
CREATE INDEX payment_links_reference ON payment_links (merchant_id, livemode, reference_id);
CREATE INDEX payment_links_expiry ON payment_links (expires_at) WHERE expired_event_at IS NULL AND deleted_at IS NULL;

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_list ON events (merchant_id, livemode, seq);

CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response_status INTEGER,
    response_body BLOB,
    locked_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, livemode, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
