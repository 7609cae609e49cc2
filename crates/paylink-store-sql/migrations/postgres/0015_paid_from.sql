-- While a link is `paid`: the status it had before its uses ran out (`active` or
-- `inactive`), which it returns to when its limit rises. NULL otherwise.
ALTER TABLE payment_links ADD COLUMN paid_from TEXT;
