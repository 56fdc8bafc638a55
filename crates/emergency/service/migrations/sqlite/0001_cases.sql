-- Emergency cases: kept 10 years (retention job).
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat_e6 INTEGER NOT NULL,
    lng_e6 INTEGER NOT NULL,
    accuracy_m INTEGER,
    description TEXT,
    caller_account TEXT,
    caller_phone TEXT,
    caller_token_hash TEXT NOT NULL,
    handshake_code TEXT NOT NULL,
    escalated INTEGER NOT NULL DEFAULT 0,
    accepts_wanted INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    first_offer_at INTEGER,
    first_accept_at INTEGER,
    first_arrival_at INTEGER,
    closed_at INTEGER,
    close_reason TEXT
);
CREATE INDEX cases_open ON cases (status, created_at);
CREATE INDEX cases_caller_phone ON cases (caller_phone, created_at);
CREATE INDEX cases_caller_account ON cases (caller_account, created_at);
-- Responders of a case (N-to-1; the first accept is the team lead).
CREATE TABLE responders (
    case_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    is_lead INTEGER NOT NULL,
    eta_minutes INTEGER,
    accepted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (case_id, volunteer_id)
);
CREATE INDEX responders_volunteer ON responders (volunteer_id, accepted_at);
-- Offers made to volunteers.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL,
    distance_m INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER,
    UNIQUE (case_id, volunteer_id)
);
CREATE INDEX offers_volunteer ON offers (volunteer_id, state);
-- Every step of every case, timestamped (response logs: 2 years).
CREATE TABLE timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    data TEXT NOT NULL
);
CREATE INDEX timeline_case ON timeline (case_id, seq);
