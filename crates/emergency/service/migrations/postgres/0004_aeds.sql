-- Automated external defibrillators.
CREATE TABLE aeds (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lat_e6 BIGINT NOT NULL,
    lng_e6 BIGINT NOT NULL,
    address TEXT,
    access TEXT NOT NULL,
    hours TEXT,
    utc_offset_minutes BIGINT NOT NULL,
    contact TEXT,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
