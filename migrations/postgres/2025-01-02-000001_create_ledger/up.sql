-- The token ledger: every balance change is an entry; users.tokens is kept equal to
-- the sum of a user's entries by the transactions that write both.
CREATE TABLE ledger_entries (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('signup_grant', 'chat_debit', 'refund', 'admin_adjustment', 'opening_balance')),
    reason TEXT NOT NULL,
    -- chat charge id, idempotency key, ... whatever explains the entry.
    reference TEXT,
    -- the administrator who made an admin_adjustment.
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_user_id ON ledger_entries (user_id, id);

-- Balances that predate the ledger become opening entries, so check-ledger holds for old data.
INSERT INTO ledger_entries (user_id, amount, kind, reason, created_at)
SELECT id, tokens, 'opening_balance', 'balance before the ledger existed', (now() AT TIME ZONE 'utc')
FROM users WHERE tokens <> 0;

-- A chat's price, taken before the responder is asked and settled (chat stored) or refunded after.
CREATE TABLE chat_charges (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'refunded')),
    deadline TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    chat_id BIGINT REFERENCES chats (id) ON DELETE SET NULL
);
CREATE INDEX chat_charges_pending ON chat_charges (status, deadline);

-- Idempotency-Key records: one per (user, key); charge_id while in progress, chat_id once done.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    charge_id TEXT NOT NULL,
    chat_id BIGINT REFERENCES chats (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_charge_id ON idempotency_keys (charge_id);
