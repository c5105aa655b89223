//! What the admin panel needs from storage: read models for its pages, the admin
//! operations on accounts, and server-side admin sessions.
//!
//! Every balance change here follows the ledger rule: an `admin_adjustment` ledger entry written in
//! the same transaction as the `users.tokens` update, recording the acting admin and a reason.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{LedgerEntryKind, TokenCounts, Tokens, User, UserId};

use crate::{chats::ChatRecord, error::StorageError, hasher::PasswordHash};

/// A slice of a longer list plus the length of the whole list, so pages can be numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page, in the list's order.
    pub items: Vec<T>,
    /// How many rows the whole (filtered) list has.
    pub total: i64,
}

/// Which rows of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return at most.
    pub limit: i64,
}

/// The dashboard's totals. Definitions are the storage contract:
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DashboardTotals {
    /// Every account, active or not.
    pub users: i64,
    /// Chats whose timestamp is at or after the given start of today.
    pub chats_today: i64,
    /// Tokens handed out: the sum of `signup_grant` entries plus positive `admin_adjustment`
    /// entries (opening balances and refunds are not grants).
    pub tokens_granted: i64,
    /// Tokens consumed by chats: minus the sum of `chat_debit` entries, minus the sum of `refund`
    /// entries (a refunded charge is not spent; a charge still pending counts as spent).
    pub tokens_spent: i64,
}

/// One row of the users list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The account.
    pub user: User,
    /// How many chats it has stored.
    pub chats: i64,
}

/// One ledger entry as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// Database identity (entries are append-only, so ids grow with time).
    pub id: i64,
    /// Signed change.
    pub amount: Tokens,
    /// Why the balance changed.
    pub kind: LedgerEntryKind,
    /// Free text explaining the entry.
    pub reason: String,
    /// For `admin_adjustment`: the acting admin's id and username (if the admin still exists).
    pub actor: Option<(UserId, Option<String>)>,
    /// For a settled chat's `chat_debit`: the model that answered and the token counts the
    /// charge was computed from.
    pub usage: Option<(String, TokenCounts)>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A chat with its author's name, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// The chat.
    pub chat: ChatRecord,
    /// Its author's username.
    pub username: String,
}

/// Which chats to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatFilter {
    /// Only this user's chats.
    pub user: Option<UserId>,
    /// Only chats at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only chats strictly before this instant.
    pub before: Option<DateTime<Utc>>,
}

/// An admin credit (positive) or debit (negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAdjustment {
    /// Whose balance changes.
    pub user_id: UserId,
    /// The acting admin, recorded as the entry's `actor_id`.
    pub actor_id: UserId,
    /// Signed, non-zero.
    pub amount: Tokens,
    /// Non-empty explanation, stored as the entry's reason.
    pub reason: String,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Result of [`AdminRepository::adjust_tokens`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adjusted {
    /// Balance changed and entry written; the new balance.
    Applied(Tokens),
    /// A debit larger than the balance; nothing was written.
    InsufficientTokens {
        /// The balance at the time of the attempt.
        available: Tokens,
    },
    /// No such user; nothing was written.
    UserNotFound,
}

/// Admin reads and writes on accounts, ledgers and chats.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AdminRepository: Send + Sync {
    /// Totals as defined on [`DashboardTotals`], with "today" starting at `today_start`.
    async fn dashboard_totals(
        &self,
        today_start: DateTime<Utc>,
    ) -> Result<DashboardTotals, StorageError>;

    /// Users ordered by id, filtered to those whose username key contains `search` (already a
    /// username key: NFKC + lowercase) when given. `%` and `_` in `search` match literally.
    async fn list_users(
        &self,
        search: Option<String>,
        window: Window,
    ) -> Result<Page<UserSummary>, StorageError>;

    /// The newest `limit` ledger entries of `user_id`, newest first.
    async fn user_ledger(
        &self,
        user_id: UserId,
        limit: i64,
    ) -> Result<Vec<LedgerLine>, StorageError>;

    /// Chats matching `filter`, newest first (ties broken by id, newest first).
    async fn list_chats(
        &self,
        filter: ChatFilter,
        window: Window,
    ) -> Result<Page<ChatLine>, StorageError>;

    /// One chat with its author's name.
    async fn find_chat(&self, id: i64) -> Result<Option<ChatLine>, StorageError>;

    /// In one write transaction: changes the balance by `amount` and appends an
    /// `admin_adjustment` entry with the actor and reason. A debit is a conditional update that
    /// MUST never take the balance below zero, whatever the concurrency (`InsufficientTokens`).
    async fn adjust_tokens(&self, adjustment: TokenAdjustment) -> Result<Adjusted, StorageError>;

    /// Activates or deactivates an account; returns whether it exists. Deactivating also bumps
    /// the account's credentials version and deletes its admin sessions, in the same
    /// transaction, so that reactivating it later revives none of its old tokens or sessions.
    async fn set_active(&self, user_id: UserId, active: bool) -> Result<bool, StorageError>;

    /// Replaces the password hash and, in the same transaction, bumps the account's credentials
    /// version (every token issued until now stops working) and deletes the account's admin
    /// sessions (an admin whose password was reset is logged out of the panel everywhere).
    /// Returns whether the account exists.
    async fn set_password(&self, user_id: UserId, hash: PasswordHash)
    -> Result<bool, StorageError>;
}

/// A session to store at admin login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminSession {
    /// SHA-256 (hex) of the random id the browser holds; the id itself is never stored.
    pub id_hash: String,
    /// The admin.
    pub user_id: UserId,
    /// The per-session token every form must echo back.
    pub csrf_token: String,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// After this the session is dead.
    pub expires_at: DateTime<Utc>,
}

/// A live stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// The admin.
    pub user_id: UserId,
    /// The per-session CSRF token.
    pub csrf_token: String,
    /// When it dies.
    pub expires_at: DateTime<Utc>,
}

/// Server-side admin sessions.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AdminSessionRepository: Send + Sync {
    /// Stores a new session. Ids are random, so a duplicate hash is an error, never an overwrite.
    async fn create_session(&self, session: NewAdminSession) -> Result<(), StorageError>;

    /// The session with this id hash, if it exists and `now` is before its expiry. An expired
    /// session is never returned.
    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StorageError>;

    /// Deletes the session (logout); deleting a missing one is not an error.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StorageError>;

    /// Deletes every session that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;
}

/// Unguessable secrets (session ids, CSRF tokens) from a cryptographically secure source.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// 32 random bytes, base64url without padding (43 characters).
    fn secret(&self) -> String;
}
