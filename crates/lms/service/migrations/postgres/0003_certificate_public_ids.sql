-- Security review, finding 8. A certificate's public id (what the QR code, the verification
-- page and the API carry) is its gap-free register number plus an unguessable part, so the
-- register cannot be enumerated; the service fills it in (and re-signs the credential) for
-- certificates issued before this migration.
ALTER TABLE certificates ADD COLUMN public_id TEXT;
CREATE UNIQUE INDEX certificates_public_id ON certificates (public_id);
-- The holder's name as the instructor checked it at the sign-off: the name printed on the
-- certificate (the enrolment's name is only the learner's proposal). Older sign-offs were
-- made with the enrolment's name in front of the instructor.
ALTER TABLE signoffs ADD COLUMN holder_name TEXT;
UPDATE signoffs SET holder_name = (
    SELECT e.name FROM enrollments e
    WHERE e.account_id = signoffs.account_id AND e.course_id = signoffs.course_id
);
