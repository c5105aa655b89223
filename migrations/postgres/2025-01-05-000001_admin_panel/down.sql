DROP INDEX chats_timestamp;
DROP TABLE admin_sessions;
ALTER TABLE users DROP COLUMN refresh_tokens_revoked_before;
