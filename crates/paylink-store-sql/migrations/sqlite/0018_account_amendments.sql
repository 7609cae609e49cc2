-- Amendments to 0016 (accounts), made before it landed anywhere and kept apart from it:
-- the recovery codes of the second factor, and an audit log cheap enough to write on
-- every API write.

-- SHA-256 of the unused recovery codes, a JSON array.
ALTER TABLE users ADD COLUMN recovery_codes TEXT NOT NULL DEFAULT '[]';

-- The audit log without its foreign key (one entry per API write, checked against no
-- parent row, as the other hot tables since 0010) and without AUTOINCREMENT (rows are
-- never deleted, so the rowid only grows). SQLite changes neither in place: the table is
-- made again.
CREATE TABLE audit_log_new (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    object_id TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL
);
INSERT INTO audit_log_new (seq, id, merchant_id, actor_type, actor_id, action, object_id, ip,
    user_agent, created_at)
SELECT seq, id, merchant_id, actor_type, actor_id, action, object_id, ip, user_agent,
    created_at
FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, seq);
