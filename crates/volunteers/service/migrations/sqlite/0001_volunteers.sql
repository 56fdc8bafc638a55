-- Volunteer profiles, linked to the KREKI ID account (volunteer_id = token subject).
CREATE TABLE profiles (
    volunteer_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    phone TEXT NOT NULL,
    province_code TEXT NOT NULL,
    city_code TEXT NOT NULL,
    languages TEXT NOT NULL,
    skills TEXT NOT NULL,
    background TEXT NOT NULL,
    registration_number TEXT,
    emergency_contact TEXT NOT NULL,
    location_consent INTEGER NOT NULL,
    location_consent_at INTEGER,
    state TEXT NOT NULL,
    -- Professional background and registration number as the reviewer approved them.
    verified_background TEXT,
    verified_registration TEXT,
    verified_at INTEGER,
    schedule TEXT NOT NULL,
    -- Best valid certificate mirrored from the LMS.
    cert_level TEXT NOT NULL,
    cert_valid_until INTEGER,
    cert_id TEXT,
    -- Last eligibility published (JSON without the version) and its version.
    eligibility TEXT,
    eligibility_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX profiles_area ON profiles (province_code, city_code);
CREATE INDEX profiles_state ON profiles (state);
-- Every verification transition with who made it and why.
CREATE TABLE verification_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    volunteer_id TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX verification_history_volunteer ON verification_history (volunteer_id, seq);
-- Documents submitted for verification (content base64, size-limited).
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX documents_volunteer ON documents (volunteer_id, created_at);
-- Certificates mirrored from lms.certificate.* (status valid|revoked).
CREATE TABLE certificates (
    certificate_id TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL,
    level TEXT NOT NULL,
    valid_until INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    expiring_noted_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX certificates_volunteer ON certificates (volunteer_id);
-- One row per (volunteer, case, kind): accepted, arrived, resolved, completed, lead.
CREATE TABLE case_credits (
    volunteer_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (volunteer_id, case_id, kind)
);
CREATE TABLE badges (
    volunteer_id TEXT NOT NULL,
    code TEXT NOT NULL,
    awarded_at INTEGER NOT NULL,
    PRIMARY KEY (volunteer_id, code)
);
