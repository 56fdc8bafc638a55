CREATE TABLE satusehat_jobs (
    case_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    nik TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    encounter_id TEXT,
    last_error TEXT,
    issues TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX satusehat_jobs_due ON satusehat_jobs (state, next_attempt_at);
CREATE TABLE satusehat_exchanges (
    seq BIGSERIAL PRIMARY KEY,
    case_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    request TEXT,
    status BIGINT,
    response TEXT,
    duration_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX satusehat_exchanges_case ON satusehat_exchanges (case_id, seq);
