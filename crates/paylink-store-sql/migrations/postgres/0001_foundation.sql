-- Merchants, keys, catalog, payment links, the event outbox and idempotency keys.
-- Times are Unix seconds; money is integer minor units; objects keep their API shape in
-- `data` (JSON) beside the columns that queries filter on or update atomically.

CREATE TABLE merchants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    settings TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    masked TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, seq);

CREATE TABLE products (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    active BIGINT NOT NULL,
    inventory_available BIGINT CHECK (inventory_available >= 0),
    data TEXT NOT NULL
);
CREATE INDEX products_list ON products (merchant_id, livemode, seq);

CREATE TABLE customers (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    email TEXT,
    data TEXT NOT NULL
);
CREATE INDEX customers_list ON customers (merchant_id, livemode, seq);

CREATE TABLE tax_rates (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    active BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX tax_rates_list ON tax_rates (merchant_id, livemode, seq);

CREATE TABLE orders (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    customer_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX orders_list ON orders (merchant_id, livemode, seq);

CREATE TABLE payment_links (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    slug TEXT NOT NULL CONSTRAINT payment_links_slug_key UNIQUE,
    status TEXT NOT NULL,
    type TEXT NOT NULL,
    title_lower TEXT NOT NULL,
    reference_id TEXT,
    customer_id TEXT,
    expires_at BIGINT,
    opens_at BIGINT,
    payments_limit BIGINT,
    payments_count BIGINT NOT NULL DEFAULT 0,
    reserved_count BIGINT NOT NULL DEFAULT 0,
    views BIGINT NOT NULL DEFAULT 0,
    checkouts_started BIGINT NOT NULL DEFAULT 0,
    amount_collected BIGINT NOT NULL DEFAULT 0,
    expired_event_at BIGINT,
    deleted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX payment_links_list ON payment_links (merchant_id, livemode, seq);
CREATE INDEX payment_links_reference ON payment_links (merchant_id, livemode, reference_id);
CREATE INDEX payment_links_expiry ON payment_links (expires_at) WHERE expired_event_at IS NULL AND deleted_at IS NULL;

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_list ON events (merchant_id, livemode, seq);

CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL,
    livemode BIGINT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response_status BIGINT,
    response_body BYTEA,
    locked_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, livemode, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
