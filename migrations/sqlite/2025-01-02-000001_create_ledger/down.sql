DROP TABLE idempotency_keys;
DROP TABLE chat_charges;
DROP TABLE ledger_entries;
