-- Inbound DARURAT messages: deduplication of carrier retries, and unreadable ones kept for
-- an operator.
CREATE TABLE sms_inbound (
    message_id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    case_id TEXT,
    error TEXT
);
CREATE INDEX sms_inbound_sender ON sms_inbound (sender, text_hash, received_at);
