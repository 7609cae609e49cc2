-- Real processors (Stripe first). A merchant's credentials per mode and processor: the
-- publishable key plain (it is public), the secrets sealed by the server under its master
-- key (the store never sees them open), and what the merchant is shown of them.
CREATE TABLE processor_credentials (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode BIGINT NOT NULL,
    processor TEXT NOT NULL,
    publishable_key TEXT NOT NULL,
    sealed TEXT NOT NULL,
    masked_secret_key TEXT NOT NULL,
    masked_webhook_secret TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, livemode, processor)
);

-- The Stripe PaymentIntent that pays a checkout session: one per session, the first one
-- made kept. The worker asks Stripe about the open ones whose `check_after` has come (and
-- moves it on in the same write); `last_failure` names the last decline recorded, so that
-- one decline is recorded once.
-- Written per checkout and per Stripe event, these rows carry no foreign key to the
-- merchant (see 0010: the check locked the merchant's row for every insert); the session's
-- is their own row's, no hot parent. SQLite keeps both.
CREATE TABLE stripe_intents (
    checkout_session_id TEXT PRIMARY KEY REFERENCES checkout_sessions (id),
    merchant_id TEXT NOT NULL,
    livemode BIGINT NOT NULL,
    intent_id TEXT NOT NULL UNIQUE,
    client_secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    check_after BIGINT NOT NULL,
    open BIGINT NOT NULL DEFAULT 1,
    last_failure TEXT
);
CREATE INDEX stripe_intents_due ON stripe_intents (check_after) WHERE open = 1;

-- The Stripe events handled, per merchant: a redelivered event is handled once.
CREATE TABLE stripe_events (
    merchant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, event_id)
);
