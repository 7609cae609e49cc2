-- Answers kept before 0011's version may hold full API keys and webhook secrets in clear
-- (they are now never kept, or kept sealed): forget them. A retry with one of those keys
-- within 24 h runs afresh instead of being replayed.
DELETE FROM idempotency_keys WHERE response_body IS NOT NULL;
