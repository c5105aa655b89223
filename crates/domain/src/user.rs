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
}
