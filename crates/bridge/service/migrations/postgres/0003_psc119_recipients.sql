-- The centres a case was handed to: only they may report on it (status callbacks).
CREATE TABLE psc119_recipients (
    case_id TEXT NOT NULL,
    centre TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, centre)
);
-- Hand-offs sent before this table existed.
INSERT INTO psc119_recipients (case_id, centre, first_at)
SELECT case_id, centre, MIN(at) FROM psc119_log
WHERE centre IS NOT NULL AND kind IN ('sent', 'send_failed')
GROUP BY case_id, centre;
