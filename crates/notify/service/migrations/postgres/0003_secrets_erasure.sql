-- Secret variables (codes, links with a token) are blanked once a message is done with;
-- a sent message that may still move on keeps them until this time (µs).
ALTER TABLE messages ADD COLUMN secrets_until BIGINT;
CREATE INDEX messages_secrets ON messages (secrets_until);
-- Every address an account had (e-mail in lower case, phone): erasure finds the messages
-- sent to them as raw addresses.
CREATE TABLE recipient_addresses (
    account_id TEXT NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (account_id, address)
);
