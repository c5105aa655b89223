//! Accounts as the core sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{tokens::Tokens, username::Username};

/// Database identity of a user; the integer the seed API returns as `user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// An account and its current balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Database identity.
    pub id: UserId,
    /// Display name, as registered.
    pub username: Username,
    /// Spendable tokens; always equal to the sum of the user's ledger entries.
    pub tokens: Tokens,
    /// A deactivated user can neither log in nor use tokens already issued.
    pub is_active: bool,
    /// May use the admin panel (superusers only, as in Django's admin).
    pub is_superuser: bool,
    /// When the account was created.
    pub date_joined: DateTime<Utc>,
    /// Bumped whenever the account's credentials stop being trustworthy (password reset,
    /// deactivation). Every token carries the version it was issued under and is refused once the
    /// account's version differs, so a reset or deactivation ends every session at once.
    pub credentials_version: i64,
}

/// What an account may do beyond chatting. Only an operator at the console creates superusers
/// (`chat-api createsuperuser`); sign-ups are always plain users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRole {
    /// Chats and manages their own tokens.
    User,
    /// Also uses the admin panel.
    Superuser,
}

impl AccountRole {
    /// Whether this role opens the admin panel (the stored `is_superuser` flag).
    pub fn is_superuser(self) -> bool {
        matches!(self, Self::Superuser)
    }
}
