-- The latest emergency_location decision per account (from identity.consent.changed): the
-- location of a closed case of a signed-in caller who withdrew it is kept coarsened only.
CREATE TABLE consents (
    account_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (account_id, purpose)
);
