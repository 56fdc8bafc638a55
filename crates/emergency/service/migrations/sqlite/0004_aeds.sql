-- Automated external defibrillators.
CREATE TABLE aeds (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lat_e6 INTEGER NOT NULL,
    lng_e6 INTEGER NOT NULL,
    address TEXT,
    access TEXT NOT NULL,
    hours TEXT,
    utc_offset_minutes INTEGER NOT NULL,
    contact TEXT,
    active INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
