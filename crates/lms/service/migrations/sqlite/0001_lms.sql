-- Catalogue: courses (one per BHD level) → modules → lessons; question banks and quizzes.
CREATE TABLE courses (
    id TEXT PRIMARY KEY,
    level TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL,
    title_id TEXT NOT NULL,
    title_en TEXT NOT NULL,
    summary_id TEXT NOT NULL,
    summary_en TEXT NOT NULL,
    hours BIGINT NOT NULL,
    pass_mark BIGINT NOT NULL,
    validity_years BIGINT NOT NULL,
    recert_months BIGINT NOT NULL
);
CREATE TABLE modules (
    id TEXT PRIMARY KEY,
    course_id TEXT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    title_id TEXT NOT NULL,
    title_en TEXT NOT NULL
);
CREATE TABLE lessons (
    id TEXT PRIMARY KEY,
    module_id TEXT NOT NULL REFERENCES modules (id),
    course_id TEXT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    title_id TEXT NOT NULL,
    title_en TEXT NOT NULL,
    body_id TEXT NOT NULL,
    body_en TEXT NOT NULL,
    media_url TEXT
);
CREATE INDEX lessons_course ON lessons (course_id, position);
CREATE TABLE questions (
    id TEXT PRIMARY KEY,
    course_id TEXT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    text_id TEXT NOT NULL,
    text_en TEXT NOT NULL,
    -- JSON array of {"id","text_id","text_en"}
    options TEXT NOT NULL,
    correct TEXT NOT NULL
);
CREATE INDEX questions_course ON questions (course_id, position);
CREATE TABLE quizzes (
    id TEXT PRIMARY KEY,
    course_id TEXT NOT NULL REFERENCES courses (id),
    kind TEXT NOT NULL,
    question_count BIGINT NOT NULL,
    time_limit_s BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    UNIQUE (course_id, kind)
);
-- Learners.
CREATE TABLE enrollments (
    account_id TEXT NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses (id),
    -- Name as printed on the certificate.
    name TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, course_id)
);
CREATE INDEX enrollments_course ON enrollments (course_id, enrolled_at);
CREATE TABLE lesson_completions (
    account_id TEXT NOT NULL,
    lesson_id TEXT NOT NULL REFERENCES lessons (id),
    course_id TEXT NOT NULL,
    completed_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, lesson_id)
);
CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    quiz_id TEXT NOT NULL REFERENCES quizzes (id),
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    -- JSON: [{"question_id","option_ids":[...]}] in the order shown.
    layout TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    -- open | submitted | expired
    status TEXT NOT NULL,
    submitted_at BIGINT,
    score BIGINT,
    total BIGINT,
    percent BIGINT,
    passed BIGINT,
    answers TEXT
);
CREATE INDEX attempts_account ON attempts (account_id, quiz_id, started_at);
CREATE TABLE signoffs (
    account_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    instructor_id TEXT NOT NULL,
    instructor_name TEXT NOT NULL,
    location TEXT NOT NULL,
    items TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, course_id)
);
-- Certificates. The gap-free number per level and year comes from cert_counters, updated in
-- the issuing transaction; status_index is the certificate's bit in the status list.
CREATE TABLE cert_counters (
    scope TEXT NOT NULL,
    year BIGINT NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (scope, year)
);
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    level TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    instructor_id TEXT NOT NULL,
    instructor_name TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    status_index BIGINT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    revoke_reason TEXT,
    reminded_at BIGINT
);
CREATE INDEX certificates_account ON certificates (account_id, issued_at);
CREATE INDEX certificates_valid ON certificates (valid_until);
CREATE UNIQUE INDEX certificates_one_per_course ON certificates (account_id, course_id, issued_at);
-- The issuer's Ed25519 key (PKCS#8, base64), made at the first start.
CREATE TABLE issuer_keys (
    id TEXT PRIMARY KEY,
    pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
