-- Transactional outbox: events written in the same transaction as the state change.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
-- Consumer-side deduplication: an event id is handled once per consumer.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    handled_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
-- Fixed-window counters shared by every replica.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);
-- Idempotency keys of POSTs that create important things.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    response TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
