-- Which process holds a claim. Each serving process writes its row at start and every
-- couple of seconds; an idempotency key or payment attempt claimed by a process that has
-- stopped being seen (killed, crashed) is taken over at once instead of after its lock
-- lapses (60 s and `attempt_stale_after_secs`). A clean shutdown marks its row gone.
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

ALTER TABLE idempotency_keys ADD COLUMN owner TEXT;
ALTER TABLE checkout_sessions ADD COLUMN attempt_owner TEXT;
