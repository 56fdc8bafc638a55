-- Transactional outbox: events written in the same transaction as the state change.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
-- Consumer-side deduplication: an event id is handled once per consumer.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    handled_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
-- Fixed-window counters shared by every replica.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);
-- Idempotency keys of POSTs that create important things.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
