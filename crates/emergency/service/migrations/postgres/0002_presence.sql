-- Last known location of volunteers on duty (written in batches; deleted when off duty).
CREATE TABLE presence (
    volunteer_id TEXT PRIMARY KEY,
    lat_e6 BIGINT NOT NULL,
    lng_e6 BIGINT NOT NULL,
    at BIGINT NOT NULL
);
-- Local copy of each volunteer's eligibility (from volunteers.eligibility.changed).
CREATE TABLE eligibility (
    volunteer_id TEXT PRIMARY KEY,
    verified BIGINT NOT NULL,
    cert_level TEXT NOT NULL,
    cert_valid_until BIGINT,
    health_professional BIGINT NOT NULL,
    skills TEXT NOT NULL,
    version BIGINT NOT NULL
);
