-- A TOTP code is used once (RFC 6238, 5.2): the 30-second step of the last code that
-- signed the user in; a code of that step or an earlier one is refused after it.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
