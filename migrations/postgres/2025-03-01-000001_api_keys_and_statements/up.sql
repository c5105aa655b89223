-- Programmatic clients: long-lived API keys, and the index a user's statement reads by.

-- One row per live or expired key; revoking a key deletes its row. Only the SHA-256 of the secret
-- is stored (a leaked database leaks no usable key), unique so that authentication finds a key by
-- its hash with one indexed lookup; prefix keeps the key's first characters to name it in lists.
CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    -- Written at most once a minute per key (a conditional update), not on every request.
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_user_id ON api_keys (user_id, id);

-- A statement sums and lists one user's entries by time.
CREATE INDEX ledger_entries_user_id_created_at ON ledger_entries (user_id, created_at, id);
