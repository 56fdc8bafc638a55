-- The latest health_data_sharing decision per account (from identity.consent.changed): a
-- signed-in caller who withdrew it has their SATUSEHAT send held for Ops review.
CREATE TABLE consents (
    account_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (account_id, purpose)
);
ALTER TABLE satusehat_jobs ADD COLUMN caller_account TEXT;
CREATE INDEX satusehat_jobs_caller ON satusehat_jobs (caller_account);
