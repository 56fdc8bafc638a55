CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    recipient_kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    vars TEXT NOT NULL,
    language TEXT,
    priority INTEGER NOT NULL,
    channels TEXT NOT NULL,
    status TEXT NOT NULL,
    correlation_id TEXT,
    expires_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX messages_queue ON messages (status, priority, next_attempt_at);
CREATE INDEX messages_correlation ON messages (correlation_id);
CREATE TABLE message_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    channel TEXT,
    detail TEXT
);
CREATE INDEX message_events_message ON message_events (message_id, seq);
