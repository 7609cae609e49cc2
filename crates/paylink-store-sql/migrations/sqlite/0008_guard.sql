-- SQLite's counterpart of PostgreSQL's `paylink_refuse` (0006), for writes sent as one
-- string of statements (the group commit's jobs, see src/writer.rs).
-- `INSERT INTO paylink_guard (ok) VALUES (changes() > 0)` right after a guarded statement
-- fails with `paylink_refuse` when that statement changed nothing; the driver stops there
-- and the write is rolled back to its savepoint, so nothing of it stays.
CREATE VIEW paylink_guard AS SELECT 1 AS ok;
CREATE TRIGGER paylink_guard_refuse INSTEAD OF INSERT ON paylink_guard
WHEN NOT NEW.ok
BEGIN
    SELECT RAISE(ABORT, 'paylink_refuse');
END;
