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
    /// Another account already has this username key, or one that looks like it (an equal
    /// skeleton, see [`UsernameKey::skeleton`]); nothing was written.
    UsernameTaken,
}

/// Stores accounts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the user and its sign-up grant ledger entry in one transaction. MUST return
    /// `UsernameTaken` (never an error, never a second account) when the key or the skeleton of
    /// the key is taken, including when two requests race for the same or look-alike names.
    async fn create(&self, new_user: NewUser) -> Result<CreatedUser, StorageError>;

    /// The account whose username key is `key`, with its hash.
    async fn find_credentials(
        &self,
        key: &UsernameKey,
    ) -> Result<Option<UserCredentials>, StorageError>;

    /// The account with this id, with its current balance.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError>;

    /// Replaces the account's password hash with `new` (the same password hashed at another
    /// cost), but only while the stored hash is still `current`: a password reset that landed in
    /// between wins. Leaves the credentials version alone. Returns whether it replaced the hash.
    async fn upgrade_password_hash(
        &self,
        id: UserId,
        current: PasswordHash,
        new: PasswordHash,
    ) -> Result<bool, StorageError>;
}
