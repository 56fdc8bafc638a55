ALTER TABLE messages ADD COLUMN plan TEXT NOT NULL DEFAULT '["console"]';
ALTER TABLE messages ADD COLUMN step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'console';
ALTER TABLE messages ADD COLUMN step_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN fallback_at BIGINT;
ALTER TABLE messages ADD COLUMN delivered_at BIGINT;
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
CREATE INDEX messages_lane ON messages (channel, status, priority, next_attempt_at);
CREATE INDEX messages_fallback ON messages (status, fallback_at);
CREATE INDEX messages_recipient ON messages (recipient, created_at);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    step BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    status TEXT NOT NULL,
    provider_ref TEXT,
    started_at BIGINT NOT NULL,
    sent_at BIGINT,
    updated_at BIGINT NOT NULL,
    detail TEXT
);
CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_provider ON deliveries (channel, provider_ref);
CREATE TABLE recipients (
    account_id TEXT PRIMARY KEY,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    channels TEXT NOT NULL DEFAULT '[]',
    quiet_start BIGINT,
    quiet_end BIGINT,
    utc_offset_min BIGINT NOT NULL DEFAULT 420,
    opt_out TEXT NOT NULL DEFAULT '[]',
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT,
    auth TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id, kind);
CREATE TABLE notify_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
