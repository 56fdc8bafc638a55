-- One-time WebSocket tickets (shared by replicas; a ticket is valid for 30 seconds).
CREATE TABLE ws_tickets (
    hash TEXT PRIMARY KEY,
    peer_kind TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX cases_caller_token ON cases (caller_token_hash);
