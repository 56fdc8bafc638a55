CREATE TABLE psc119_handoffs (
    case_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    state TEXT NOT NULL,
    centre_index INTEGER NOT NULL DEFAULT 0,
    sends INTEGER NOT NULL DEFAULT 0,
    next_check_at INTEGER NOT NULL,
    acknowledged_by TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX psc119_handoffs_due ON psc119_handoffs (state, next_check_at);
CREATE TABLE psc119_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    centre TEXT,
    detail TEXT
);
CREATE INDEX psc119_log_case ON psc119_log (case_id, seq);
CREATE TABLE psc119_callbacks (
    callback_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    centre TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
