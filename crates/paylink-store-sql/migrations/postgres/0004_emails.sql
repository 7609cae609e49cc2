-- The e-mail outbox: messages are queued with the change that causes them and sent by the
-- worker with retries; without SMTP configured they are held here for the merchant to see.

CREATE TABLE emails (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    data TEXT NOT NULL
);
CREATE INDEX emails_list ON emails (merchant_id, livemode, seq);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';
