-- Refresh-token revocation (logout, rotation, theft detection) and login/sign-up throttling.
-- Both are shared by every server process through the database and pruned once
-- expired, so they stay small.

-- One row per refresh token that may no longer be used: rotated out, logged out, or caught in a
-- revoked family. Kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('rotated', 'logout')),
    revoked_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Login sessions (refresh-token families) ended as a whole: by logout, or because a rotated-out
-- token was replayed. Kept until the newest token of the family would have expired.
CREATE TABLE revoked_token_families (
    family TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('logout', 'reuse_detected')),
    revoked_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_token_families_expires_at ON revoked_token_families (expires_at);

-- Sliding-window log of throttled events (failed logins, sign-ups). bucket is an opaque hash the
-- application derives from (scope, username key, client IP); no username or IP is stored.
CREATE TABLE throttle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_events_bucket ON throttle_events (bucket, occurred_at);
CREATE INDEX throttle_events_occurred_at ON throttle_events (occurred_at);
