-- Hostile clients, round two: credentials versions in tokens, look-alike usernames, and what the
-- atomic throttles and lockout resistance need.

-- Every token carries the version it was issued under and is refused once this moves on. Tokens
-- from before carry none and count as 0, so nobody is logged out by the upgrade, except where a
-- token must stay dead: accounts that are deactivated (reactivating them must not revive old
-- tokens) or whose password an admin reset (the refresh-token cutoff this column replaces).
ALTER TABLE users ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;
UPDATE users SET credentials_version = 1
WHERE NOT is_active OR refresh_tokens_revoked_before IS NOT NULL;
ALTER TABLE users DROP COLUMN refresh_tokens_revoked_before;

-- The Unicode TR39 skeleton of username_key, computed in Rust (UsernameKey::skeleton) like the key:
-- no two accounts may look alike. NULL until filled: the storage adapter fills it for existing
-- accounts right after migrating, oldest account first, and gives an account whose skeleton is
-- already taken a disambiguated one (skeleton, '#', id), so every existing account stays usable.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);

-- Whose attempt an event counts (a hash of the username key, like the bucket names), so an
-- operator can lift every login lock of one username at once.
ALTER TABLE throttle_events ADD COLUMN subject TEXT;
CREATE INDEX throttle_events_subject ON throttle_events (subject);

-- (username key, client address) pairs that logged in successfully, as hashes like bucket names:
-- such a pair is exempt from the per-username failed-login cap, so a stranger cannot lock an
-- owner out of where they usually log in. Pruned once older than the exemption lasts.
CREATE TABLE login_sources (
    source TEXT PRIMARY KEY,
    last_success_at TIMESTAMP NOT NULL
);
CREATE INDEX login_sources_last_success_at ON login_sources (last_success_at);
