CREATE TABLE satusehat_jobs (
    case_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    nik TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    encounter_id TEXT,
    last_error TEXT,
    issues TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX satusehat_jobs_due ON satusehat_jobs (state, next_attempt_at);
CREATE TABLE satusehat_exchanges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    request TEXT,
    status INTEGER,
    response TEXT,
    duration_ms INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX satusehat_exchanges_case ON satusehat_exchanges (case_id, seq);
