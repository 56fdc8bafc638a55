-- Last known location of volunteers on duty (written in batches; deleted when off duty).
CREATE TABLE presence (
    volunteer_id TEXT PRIMARY KEY,
    lat_e6 INTEGER NOT NULL,
    lng_e6 INTEGER NOT NULL,
    at INTEGER NOT NULL
);
-- Local copy of each volunteer's eligibility (from volunteers.eligibility.changed).
CREATE TABLE eligibility (
    volunteer_id TEXT PRIMARY KEY,
    verified INTEGER NOT NULL,
    cert_level TEXT NOT NULL,
    cert_valid_until INTEGER,
    health_professional INTEGER NOT NULL,
    skills TEXT NOT NULL,
    version INTEGER NOT NULL
);
