-- SQLite's 0008 adds `paylink_guard`, its counterpart of `paylink_refuse` (0006) for writes
-- sent as one transaction in one call. PostgreSQL's one-statement writes call
-- `paylink_refuse` directly, so nothing changes here; the file keeps the two backends'
-- migration numbers in step.
SELECT 1;
