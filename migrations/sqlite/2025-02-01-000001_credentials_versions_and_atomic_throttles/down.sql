DROP TABLE login_sources;
DROP INDEX throttle_events_subject;
ALTER TABLE throttle_events DROP COLUMN subject;
DROP INDEX users_username_skeleton;
ALTER TABLE users DROP COLUMN username_skeleton;
ALTER TABLE users ADD COLUMN refresh_tokens_revoked_before TIMESTAMP;
ALTER TABLE users DROP COLUMN credentials_version;
