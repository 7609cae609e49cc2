-- Subscriptions that renew (issue 23). The object is `data` (JSON); its billing state
-- (`state`, paylink_domain::subscription::SubscriptionState) is what the transitions read
-- and write. `next_due_at` is when something is next due (a renewal, a retry, the end):
-- the worker finds due subscriptions by it. A worker, a test clock or a cancellation acts
-- on a subscription only while it holds its claim (`claim`, until `claimed_until`): one at
-- a time, and a claim left by a killed process runs out.
CREATE TABLE subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    payment_link_id TEXT NOT NULL,
    customer_id TEXT,
    status TEXT NOT NULL,
    next_due_at INTEGER,
    claim TEXT,
    claimed_until INTEGER,
    -- A test clock's time, once advanced (test mode only).
    clock INTEGER,
    -- The processor's reference of the saved payment method.
    method_ref TEXT,
    state TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX subscriptions_list ON subscriptions (merchant_id, livemode, seq);
CREATE INDEX subscriptions_due ON subscriptions (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX subscriptions_link ON subscriptions (payment_link_id, seq);

-- A subscription's payments (the first and each renewal), newest first.
ALTER TABLE payments ADD COLUMN subscription_id TEXT;
CREATE INDEX payments_subscription ON payments (subscription_id, seq) WHERE subscription_id IS NOT NULL;
