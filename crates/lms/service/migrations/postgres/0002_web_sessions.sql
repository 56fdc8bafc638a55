-- Sessions of the server-rendered /belajar/ pages (the cookie holds a random id; only its
-- SHA-256 is stored) and pending KREKI ID sign-ins (authorization code + PKCE).
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
