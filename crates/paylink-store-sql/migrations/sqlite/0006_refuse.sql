-- PostgreSQL's 0006 adds `paylink_refuse`, used only by its one-statement writes. SQLite
-- has no such writes (its driver runs one statement per call), so nothing changes here;
-- the file keeps the two backends' migration numbers in step.
SELECT 1;
