//! What a user may read about their own account: their chats and their ledger.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{LedgerEntryKind, Tokens, UserId};

use crate::{
    admin::{Page, Window},
    chats::ChatRecord,
    error::StorageError,
};

/// Which part of a user's ledger a statement covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementQuery {
    /// Whose ledger.
    pub user_id: UserId,
    /// Entries recorded at or after this instant.
    pub from: DateTime<Utc>,
    /// Entries recorded strictly before this instant.
    pub to: DateTime<Utc>,
    /// Which of the window's entries, in statement order (oldest first).
    pub window: Window,
}

/// One ledger entry on a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    /// Database identity.
    pub id: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Why the balance changed.
    pub kind: LedgerEntryKind,
    /// Signed change.
    pub amount: Tokens,
    /// Free text explaining the entry.
    pub reason: String,
    /// The chat the entry paid for or refunded, once that chat is stored.
    pub chat_id: Option<i64>,
}

/// A page of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPage {
    /// The balance just before the page's first entry: the sum of every entry of the user that
    /// comes before it in statement order (all entries before `from`, and the window's entries
    /// on earlier pages). For a page past the window's end, the balance at `to`.
    pub opening_balance: Tokens,
    /// The page's entries, oldest first (by time, then id).
    pub entries: Vec<StatementEntry>,
    /// How many entries the whole window holds.
    pub total: i64,
}

/// Reads a user's own chats and ledger.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HistoryRepository: Send + Sync {
    /// The user's chats, newest first (ties broken by id, newest first), with their count.
    async fn chat_history(
        &self,
        user_id: UserId,
        window: Window,
    ) -> Result<Page<ChatRecord>, StorageError>;

    /// One page of the user's ledger entries in `[from, to)`, with the balance before it. MUST
    /// read one consistent snapshot: an entry committing meanwhile is either in every number or
    /// in none, so `opening_balance + Σ amounts` is the balance after the page's last entry.
    async fn statement(&self, query: StatementQuery) -> Result<StatementPage, StorageError>;
}
