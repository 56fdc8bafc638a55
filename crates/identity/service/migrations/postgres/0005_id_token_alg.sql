-- The algorithm of a client's ID tokens (OpenID Connect Dynamic Client Registration's
-- `id_token_signed_response_alg`): ES256 (the default) or RS256.
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'ES256';
