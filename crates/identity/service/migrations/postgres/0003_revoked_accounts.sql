-- Accounts whose access tokens issued before `not_before` (Unix milliseconds) are revoked:
-- password change or reset, role change, erasure. Kept until no such token can be valid.
CREATE TABLE revoked_accounts (
    account_id TEXT PRIMARY KEY,
    not_before BIGINT NOT NULL,
    -- Unix seconds: no token issued before `not_before` can be valid after it.
    expires_at BIGINT NOT NULL
);
