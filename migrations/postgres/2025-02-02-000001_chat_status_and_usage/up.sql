-- Streamed answers and usage-based pricing: how each exchange ended and what it cost, and the
-- model and token counts behind each chat charge.

ALTER TABLE chats ADD COLUMN status TEXT NOT NULL DEFAULT 'completed'
    CHECK (status IN ('completed', 'interrupted'));
-- What the exchange took from the balance: always the net of its charge's ledger entries.
ALTER TABLE chats ADD COLUMN tokens_charged BIGINT NOT NULL DEFAULT 0 CHECK (tokens_charged >= 0);

-- Every earlier exchange was answered in full and charged its charge's amount (settlement wrote no
-- refund then); a chat from before the ledger has no charge and paid the original service's fixed
-- price of 100.
UPDATE chats SET tokens_charged = COALESCE(
    (SELECT c.amount FROM chat_charges c WHERE c.chat_id = chats.id),
    100
);

-- Filled on a chat charge's chat_debit entry when the chat is settled (unknown when the price is
-- reserved); the amount of an entry never changes.
ALTER TABLE ledger_entries ADD COLUMN model TEXT;
ALTER TABLE ledger_entries ADD COLUMN prompt_tokens BIGINT;
ALTER TABLE ledger_entries ADD COLUMN completion_tokens BIGINT;

-- Settlement finds a charge's entries, and check-ledger a chat's charge, by these.
CREATE INDEX ledger_entries_reference ON ledger_entries (reference);
CREATE INDEX chat_charges_chat_id ON chat_charges (chat_id);
