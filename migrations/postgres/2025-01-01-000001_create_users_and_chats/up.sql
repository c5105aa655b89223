-- Accounts and chat history, as in the original Django service.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    -- NFKC + lowercase of username, computed in Rust: case-insensitive uniqueness on every backend.
    username_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    tokens BIGINT NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    date_joined TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);

CREATE TABLE chats (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    response TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL
);
CREATE INDEX chats_user_id_timestamp ON chats (user_id, timestamp);
