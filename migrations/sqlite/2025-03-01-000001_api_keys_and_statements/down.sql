DROP INDEX ledger_entries_user_id_created_at;
DROP TABLE api_keys;
