-- Emergency cases: kept 10 years (retention job).
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat_e6 BIGINT NOT NULL,
    lng_e6 BIGINT NOT NULL,
    accuracy_m BIGINT,
    description TEXT,
    caller_account TEXT,
    caller_phone TEXT,
    caller_token_hash TEXT NOT NULL,
    handshake_code TEXT NOT NULL,
    escalated BIGINT NOT NULL DEFAULT 0,
    accepts_wanted BIGINT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_offer_at BIGINT,
    first_accept_at BIGINT,
    first_arrival_at BIGINT,
    closed_at BIGINT,
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
    is_lead BIGINT NOT NULL,
    eta_minutes BIGINT,
    accepted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, volunteer_id)
);
CREATE INDEX responders_volunteer ON responders (volunteer_id, accepted_at);
-- Offers made to volunteers.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    wave BIGINT NOT NULL,
    state TEXT NOT NULL,
    distance_m BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    UNIQUE (case_id, volunteer_id)
);
CREATE INDEX offers_volunteer ON offers (volunteer_id, state);
-- Every step of every case, timestamped (response logs: 2 years).
CREATE TABLE timeline (
    seq BIGSERIAL PRIMARY KEY,
    case_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    data TEXT NOT NULL
);
CREATE INDEX timeline_case ON timeline (case_id, seq);
