//! Accounts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AccountRole, Tokens, User, UserId, Username, UsernameKey};

use crate::{error::StorageError, hasher::PasswordHash};

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Validated name; its key must be unique.
    pub username: Username,
    /// Already hashed.
    pub password_hash: PasswordHash,
    /// Plain user or superuser (who may use the admin panel).
    pub role: AccountRole,
    /// Creation time.
    pub joined_at: DateTime<Utc>,
    /// Tokens credited on creation, recorded as a `signup_grant` ledger entry.
    pub signup_grant: Tokens,
}

/// An account with what login needs to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// Its stored hash.
    pub password_hash: PasswordHash,
}

/// Result of [`UserRepository::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatedUser {
    /// The account exists now, with its grant.
    Created(User),
    /// Another account already has this username key; nothing was written.
    UsernameTaken,
}

/// Stores accounts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the user and its sign-up grant ledger entry in one transaction. MUST return
    /// `UsernameTaken` (never an error, never a second account) when the key is taken, including
    /// when two requests race for the same name.
    async fn create(&self, new_user: NewUser) -> Result<CreatedUser, StorageError>;

    /// The account whose username key is `key`, with its hash.
    async fn find_credentials(
        &self,
        key: &UsernameKey,
    ) -> Result<Option<UserCredentials>, StorageError>;

    /// The account with this id, with its current balance.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError>;

    /// The account's refresh-token cutoff: refresh tokens issued at or before it MUST be refused
    /// (an admin password reset sets it). `None` when never set or when the account is missing.
    async fn refresh_tokens_revoked_before(
        &self,
        id: UserId,
    ) -> Result<Option<DateTime<Utc>>, StorageError>;
}
