-- Well-being check-ins of responders after a hard case (critical, CPR, or a death): asked
-- in the volunteer app some time after completion, answered once. Deleted with the case.
CREATE TABLE wellbeing_checkins (
    case_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    answer TEXT,
    note TEXT,
    answered_at BIGINT,
    PRIMARY KEY (case_id, volunteer_id)
);
CREATE INDEX wellbeing_volunteer ON wellbeing_checkins (volunteer_id, due_at);
