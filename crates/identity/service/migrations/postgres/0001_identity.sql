-- KREKI ID. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    member_number TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    phone TEXT UNIQUE,
    full_name TEXT NOT NULL,
    password_hash TEXT,
    role TEXT NOT NULL,
    email_verified BIGINT NOT NULL DEFAULT 0,
    phone_verified BIGINT NOT NULL DEFAULT 0,
    language TEXT NOT NULL DEFAULT 'id',
    totp_secret TEXT,
    totp_enabled BIGINT NOT NULL DEFAULT 0,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- MFA recovery codes (hashed; each usable once).
CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (account_id, code_hash)
);
-- OAuth 2.0 / OIDC clients. Secrets are high-entropy: stored as SHA-256.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    confidential BIGINT NOT NULL,
    first_party BIGINT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Token signing keys (ES256). Retired keys stay published until their tokens expired.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_der TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
-- Browser sessions of the login pages (cookie value stored hashed).
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    sid TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);
-- Authorization codes (hashed; single use, short-lived).
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    sid TEXT,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    family_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
-- Refresh tokens (hashed). One family per sign-in; rotation on every use; a reused token
-- revokes its whole family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    sid TEXT,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_family ON refresh_tokens (family_id);
CREATE INDEX refresh_account ON refresh_tokens (account_id);
-- Revoked access tokens (by jti) until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
-- One-time codes and links: phone codes, e-mail verification, password reset, MFA tickets.
CREATE TABLE one_time_codes (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    target TEXT NOT NULL,
    account_id TEXT,
    code_hash TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX otc_target ON one_time_codes (purpose, target, created_at);
CREATE INDEX otc_hash ON one_time_codes (code_hash);
-- Consent records per purpose (UU 27/2022): every change is a row.
CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX consents_account ON consents (account_id, purpose, at);
-- Scopes a user granted to a third-party client.
CREATE TABLE client_grants (
    account_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
-- Security audit log (personal data masked).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT,
    actor TEXT,
    ip TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_log (at);
CREATE INDEX audit_account ON audit_log (account_id, at);
-- Per account+IP failed-login throttle (exponential delay).
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    next_allowed_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The permission matrix in force (written from the contract at start).
CREATE TABLE permissions (
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);
