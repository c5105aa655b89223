-- Admin panel: server-side sessions, refresh-token revocation on password reset, and an
-- index for the chat list (newest first across all users).

-- Refresh tokens issued at or before this instant are refused (set by an admin password reset).
ALTER TABLE users ADD COLUMN refresh_tokens_revoked_before TIMESTAMP;

-- One row per logged-in admin browser. The cookie holds a random id; only its SHA-256 is stored,
-- so a leaked database does not leak live sessions.
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);

CREATE INDEX chats_timestamp ON chats (timestamp, id);
