-- Amendments to 0016 (accounts), made before it landed anywhere and kept apart from it:
-- the recovery codes of the second factor, and an audit log cheap enough to write on
-- every API write.

-- SHA-256 of the unused recovery codes, a JSON array.
ALTER TABLE users ADD COLUMN recovery_codes TEXT NOT NULL DEFAULT '[]';

-- One entry per API write, checked against no parent row (as the other hot tables since
-- 0010).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_merchant_id_fkey;
