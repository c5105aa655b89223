//! Chats and the charge protocol that makes a chat's net charge in the ledger always equal the
//! `tokens_charged` of its stored record:
//!
//! 1. [`ChatRepository::reserve`] takes the most the chat may cost (conditional debit +
//!    `chat_debit` ledger entry) and records a *pending charge* with a deadline, in one
//!    transaction.
//! 2. The responder is asked, outside any transaction.
//! 3. Either [`ChatRepository::settle`] stores the exchange (completed, or interrupted by the
//!    client), closes the charge and refunds the unreserved rest, or [`ChatRepository::refund`]
//!    gives the whole reservation back (`refund` entry) and stores nothing, again in one
//!    transaction.
//! 4. Charges a crash left pending are refunded by [`ChatRepository::refund_expired`] once their
//!    deadline has passed.
//!
//! Steps 3 and 4 both act only on a charge that is still pending (a conditional update), so exactly
//! one of them wins, however many processes race.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ChatMessage, ChatStatus, TokenCounts, Tokens, UserId};
use uuid::Uuid;

use crate::error::StorageError;

/// Identity of one pending or closed charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChargeId(pub Uuid);

/// A client-chosen key that makes a chat request safe to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The `Idempotency-Key` header value.
    pub key: String,
    /// Fingerprint of the request body, to tell a retry from a different request reusing the key.
    pub request_fingerprint: String,
    /// Keys older than this are forgotten and may be used afresh.
    pub not_before: DateTime<Utc>,
}

/// What step 1 of the protocol needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReservation {
    /// Who pays.
    pub user_id: UserId,
    /// The most the chat may cost (the flat price, or the per-token price of the estimated prompt
    /// and a full answer); settlement refunds what it did not cost.
    pub amount: Tokens,
    /// Now.
    pub now: DateTime<Utc>,
    /// After this, the sweeper may refund the charge if the request has not settled it.
    pub deadline: DateTime<Utc>,
    /// Present when the client sent an `Idempotency-Key`.
    pub idempotency: Option<IdempotencyKey>,
}

/// Result of [`ChatRepository::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The price was taken; the charge is pending.
    Reserved(ChargeId),
    /// The balance is below the price; nothing was written.
    InsufficientTokens {
        /// The balance at the time of the attempt.
        available: Tokens,
    },
    /// No user has this id (the account was deleted after the caller authenticated); nothing was
    /// written.
    UserNotFound,
    /// The idempotency key already produced this chat; nothing was written or charged.
    Replay(ChatRecord),
    /// A request with the same idempotency key is still running; nothing was written.
    InProgress,
    /// The idempotency key was used with a different request body; nothing was written.
    KeyReused,
}

/// Where one idempotency key stands (see [`ChatRepository::idempotency_key_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyKeyState {
    /// No request holds the key (never used, forgotten, or released by a refund).
    Absent,
    /// A request holding the key has reserved its charge and not yet settled or refunded it.
    InProgress,
    /// The key's request settled; reserving with it again replays the stored chat.
    Completed,
}

/// A stored chat exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    /// Database identity.
    pub id: i64,
    /// Who chatted.
    pub user_id: UserId,
    /// What they said.
    pub message: String,
    /// What the responder answered (up to the interruption, for an interrupted exchange).
    pub response: String,
    /// When the exchange was recorded.
    pub timestamp: DateTime<Utc>,
    /// Whether the answer was completed or interrupted by the client.
    pub status: ChatStatus,
    /// What the exchange cost: the net of its charge's ledger entries.
    pub tokens_charged: Tokens,
}

/// What step 3 stores for an answer the model produced, whole or up to an interruption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedChat {
    /// What the user said.
    pub message: ChatMessage,
    /// What the model answered.
    pub response: String,
    /// Whether the answer was completed or interrupted by the client.
    pub status: ChatStatus,
    /// What the exchange costs. The rest of the reservation is refunded; more than was reserved
    /// is never taken.
    pub charged: Tokens,
    /// The model that answered, as the upstream named it.
    pub model: String,
    /// The token counts the charge was computed from.
    pub tokens: TokenCounts,
    /// When the exchange ended.
    pub at: DateTime<Utc>,
}

/// A stored exchange and the balance its settlement left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledChat {
    /// The stored exchange.
    pub record: ChatRecord,
    /// The user's balance right after the settlement.
    pub balance: Tokens,
}

/// Result of [`ChatRepository::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The chat is stored and the charge closed.
    Settled(SettledChat),
    /// The charge was no longer pending (the sweeper refunded it after its deadline); nothing was
    /// stored and the user was not charged.
    ChargeExpired,
}

/// Stores chats and runs the charge protocol.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// Step 1. In one transaction: claims the idempotency key if any, then debits the amount only
    /// if the balance covers it and records the pending charge and its `chat_debit` entry. MUST
    /// never take a balance below zero, whatever the concurrency. MUST return `UserNotFound`,
    /// never `InsufficientTokens`, when the user does not exist.
    async fn reserve(&self, reservation: ChatReservation) -> Result<Reservation, StorageError>;

    /// Step 3, an answer. If `charge` is still pending, in one transaction: stores the exchange
    /// with its status and `tokens_charged` = `min(chat.charged, reserved)`, closes the charge,
    /// refunds `reserved − tokens_charged` with a `refund` entry when positive, and records the
    /// model and token counts on the charge's `chat_debit` entry. A completed exchange completes
    /// its idempotency key (retries replay it); an interrupted one releases the key (the client
    /// never received an answer, so a retry runs afresh). Otherwise `ChargeExpired` and nothing
    /// is written.
    async fn settle(
        &self,
        charge: ChargeId,
        chat: FinishedChat,
    ) -> Result<Settlement, StorageError>;

    /// Step 3, failure. If `charge` is still pending: gives the price back with a `refund` entry
    /// carrying `reason`, and releases its idempotency key so the client may retry. Returns whether
    /// this call did the refund.
    async fn refund(
        &self,
        charge: ChargeId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// How many completed chats `user_id` has stored (interrupted ones are not counted).
    async fn completed_chat_count(&self, user_id: UserId) -> Result<i64, StorageError>;

    /// The last `limit` completed exchanges of `user_id`, oldest first: the conversation's memory
    /// sent to the model before a new message. Interrupted exchanges are left out: their answer
    /// was cut short, and the client never saw all of it.
    async fn recent_exchanges(
        &self,
        user_id: UserId,
        limit: u32,
    ) -> Result<Vec<ChatRecord>, StorageError>;

    /// Step 4. Refunds every charge still pending whose deadline is before `now`; returns how many.
    async fn refund_expired(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;

    /// Where the idempotency `key` of `user_id` stands, so a concurrent duplicate can wait for the
    /// request holding it and then replay its answer.
    async fn idempotency_key_state(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<IdempotencyKeyState, StorageError>;
}
