-- Security review, finding 7. When KREKI ID erases an account (`identity.account.erased`),
-- the LMS deletes what is only about the learner (enrolments, lessons, attempts, sign-offs,
-- page sessions) and keeps each certificate's register entry without personal data: no
-- name, no credential, the account replaced by a pseudonym. This marks such entries.
ALTER TABLE certificates ADD COLUMN holder_erased_at BIGINT;
