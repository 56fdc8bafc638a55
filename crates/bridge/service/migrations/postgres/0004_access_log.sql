-- Who read the health data of which SATUSEHAT job (the exchanges with their FHIR bodies),
-- and when: every access to health data is recorded (UU 27/2022), readable with audit:read.
CREATE TABLE access_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    case_id TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX access_log_case ON access_log (case_id, at);
CREATE INDEX access_log_at ON access_log (at);
