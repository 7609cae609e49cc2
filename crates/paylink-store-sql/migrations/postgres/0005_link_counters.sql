-- Counters of links without a payments_limit, in shards: a busy link's purchases add to
-- different rows instead of queueing on the link's own (see src/counters.rs). A link's
-- figure is its row's value plus the sum of its shards'.

CREATE TABLE link_counters (
    link_id TEXT NOT NULL REFERENCES payment_links (id),
    shard INTEGER NOT NULL,
    checkouts_started BIGINT NOT NULL DEFAULT 0,
    reserved_count BIGINT NOT NULL DEFAULT 0,
    payments_count BIGINT NOT NULL DEFAULT 0,
    amount_collected BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (link_id, shard)
);
