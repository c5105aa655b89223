DROP TABLE throttle_events;
DROP TABLE revoked_token_families;
DROP TABLE revoked_tokens;
