-- Checkout sessions with their reservations, payments, refunds and receipt numbers.

ALTER TABLE merchants ADD COLUMN receipt_seq INTEGER NOT NULL DEFAULT 0;

-- Units held by open checkouts: `inventory_available` excludes them.
ALTER TABLE products ADD COLUMN inventory_held INTEGER NOT NULL DEFAULT 0;

CREATE TABLE checkout_sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    payment_link_id TEXT NOT NULL REFERENCES payment_links (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    -- JSON {product_id: units} of stock held by this session.
    stock TEXT NOT NULL,
    -- The current payment attempt: recorded before the processor is called.
    attempt_no INTEGER NOT NULL DEFAULT 0,
    attempt_status TEXT,
    attempt_started_at INTEGER,
    attempt_reference TEXT,
    -- The first final answer, replayed to every later pay request.
    result_status INTEGER,
    result TEXT,
    payment_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX checkout_sessions_expiry ON checkout_sessions (expires_at) WHERE status = 'open';
CREATE INDEX checkout_sessions_link ON checkout_sessions (payment_link_id, status);

CREATE TABLE payments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    payment_link_id TEXT NOT NULL,
    checkout_session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    amount INTEGER NOT NULL,
    amount_refunded INTEGER NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
    receipt_token TEXT,
    data TEXT NOT NULL
);
CREATE INDEX payments_list ON payments (merchant_id, livemode, seq);
CREATE INDEX payments_link ON payments (payment_link_id, seq);

CREATE TABLE refunds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
