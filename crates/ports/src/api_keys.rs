//! API keys as stored: the SHA-256 of the secret, never the secret itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{User, UserId};

use crate::error::StorageError;

/// Database identity of a key (the `{id}` of `DELETE /api-keys/{id}/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyId(pub i64);

/// A key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Whose key it is.
    pub user_id: UserId,
    /// The owner's label for it (may be empty).
    pub name: String,
    /// The key's first characters, kept in clear to name it in lists.
    pub prefix: String,
    /// SHA-256 (hex) of the whole key; unique.
    pub secret_hash: String,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Database identity.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub user_id: UserId,
    /// The owner's label.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to the minute (see
    /// [`ApiKeyRepository::touch_api_key`]); `None`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Result of [`ApiKeyRepository::create_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatedApiKey {
    /// The key is stored.
    Created(ApiKey),
    /// The account already holds the maximum of live keys; nothing was written.
    LimitReached,
}

/// A key found by its secret, with its account as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    /// The key.
    pub key: ApiKey,
    /// Its account, with the current balance and active flag.
    pub user: User,
}

/// Stores API keys.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// In one write transaction: counts the account's live keys (no expiry, or an expiry after
    /// `key.created_at`) and stores `key` only if they are fewer than `live_limit`. MUST never
    /// let an account exceed `live_limit` live keys, however many creations race, on one process
    /// or many.
    async fn create_api_key(
        &self,
        key: NewApiKey,
        live_limit: u32,
    ) -> Result<CreatedApiKey, StorageError>;

    /// Every key of `user_id`, expired ones included, newest first.
    async fn list_api_keys(&self, user_id: UserId) -> Result<Vec<ApiKey>, StorageError>;

    /// Deletes key `id` if it belongs to `user_id`; returns whether it did. Another account's key
    /// is left alone and reported like a missing one.
    async fn revoke_api_key(&self, user_id: UserId, id: ApiKeyId) -> Result<bool, StorageError>;

    /// The key whose secret hashes to `secret_hash`, with its account, in one indexed query
    /// (authentication runs it on every request a key makes). Expiry and the account's active
    /// flag are the caller's to check.
    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<KeyOwner>, StorageError>;

    /// Records that key `id` was used at `now`, but only if its last recorded use is missing or
    /// before `stale_before`: a conditional update, so a busy key is written at most once per
    /// interval whatever the number of processes. Returns whether it wrote.
    async fn touch_api_key(
        &self,
        id: ApiKeyId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
}
