-- The e-mail outbox: messages are queued with the change that causes them and sent by the
-- worker with retries; without SMTP configured they are held here for the merchant to see.

CREATE TABLE emails (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER,
    last_error TEXT,
    data TEXT NOT NULL
);
CREATE INDEX emails_list ON emails (merchant_id, livemode, seq);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';
