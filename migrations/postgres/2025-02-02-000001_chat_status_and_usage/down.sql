DROP INDEX chat_charges_chat_id;
DROP INDEX ledger_entries_reference;
ALTER TABLE ledger_entries DROP COLUMN completion_tokens;
ALTER TABLE ledger_entries DROP COLUMN prompt_tokens;
ALTER TABLE ledger_entries DROP COLUMN model;
ALTER TABLE chats DROP COLUMN tokens_charged;
ALTER TABLE chats DROP COLUMN status;
