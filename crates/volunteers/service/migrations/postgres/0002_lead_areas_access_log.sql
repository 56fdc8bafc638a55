-- The area (BPS city code) in which a Volunteer Lead reviews volunteers: set by an admin
-- (Ops or System Admin), never by the lead (security review, finding 4).
CREATE TABLE lead_areas (
    lead_id TEXT PRIMARY KEY,
    city_code TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at BIGINT NOT NULL
);
-- Who read which volunteer's documents (ID cards carry the NIK) or changed a lead's area,
-- and when: every access to personal documents is recorded (UU 27/2022).
CREATE TABLE access_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX access_log_subject ON access_log (subject_id, at);
