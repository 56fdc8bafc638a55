-- A new e-mail or phone waits here until it is verified (security finding 3): a stolen
-- access token alone cannot move the account to the thief's addresses.
ALTER TABLE accounts ADD COLUMN pending_email TEXT;
ALTER TABLE accounts ADD COLUMN pending_phone TEXT;
