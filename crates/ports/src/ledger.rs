//! The ledger read back as a whole, for audits (`chat-api check-ledger`, tests) and monitoring
//! (the drift and pending-charge metrics).

use async_trait::async_trait;
use domain::{Tokens, UserId};

use crate::error::StorageError;

/// One account's stored balance next to the sum of its ledger entries. They are equal, and the
/// balance is never negative, unless the ledger is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTotals {
    /// The account.
    pub user_id: UserId,
    /// Its username, so a report names whom it concerns.
    pub username: String,
    /// The maintained balance (`users.tokens`).
    pub balance: Tokens,
    /// The sum of the account's ledger entries.
    pub entries_sum: Tokens,
}

/// One chat's recorded charge next to what the ledger entries of its charge took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLedgerTotals {
    /// The chat.
    pub chat_id: i64,
    /// Its author.
    pub user_id: UserId,
    /// The author's username, so a report names whom it concerns.
    pub username: String,
    /// The chat's `tokens_charged`.
    pub tokens_charged: Tokens,
    /// Minus the sum of the ledger entries referencing the chat's charge (its debit net of
    /// refunds): what the chat took from the balance.
    pub ledger_net: Tokens,
}

/// Whole-ledger reads.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait LedgerRepository: Send + Sync {
    /// Every account's balance and ledger sum, ordered by account id. MUST read one consistent
    /// snapshot: a chat committing meanwhile is either wholly in both numbers or in neither.
    async fn ledger_totals(&self) -> Result<Vec<LedgerTotals>, StorageError>;

    /// Every chat settled through a charge, with what its entries took, ordered by chat id
    /// (chats from before the ledger have no charge and are not listed). MUST read one
    /// consistent snapshot, like [`LedgerRepository::ledger_totals`].
    async fn chat_ledger_totals(&self) -> Result<Vec<ChatLedgerTotals>, StorageError>;

    /// How many chat charges are pending: taken by [`crate::ChatRepository::reserve`] and neither
    /// settled nor refunded yet (chats under way in every process, plus any a crash left for the
    /// sweeper). MUST be one cheap aggregate: monitoring reads it every few seconds.
    async fn pending_charges(&self) -> Result<i64, StorageError>;
}
