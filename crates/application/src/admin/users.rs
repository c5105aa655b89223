//! Accounts as admins manage them: list, one user's page, and the actions on an account.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{PlainPassword, Tokens, User, UserId, UsernameKey};
use ports::{
    Adjusted, AdminRepository, ApiKey, ApiKeyId, ApiKeyRepository, ChatFilter, ChatLine, Clock,
    LedgerLine, Page, PasswordHasher, TokenAdjustment, UserRepository, UserSummary, Window,
};

use super::{AdminError, PAGE_SIZE, Paged, paged, window};
use crate::LoginThrottle;

/// Largest single credit or debit, so a typo cannot mint absurd balances.
pub const MAX_ADJUSTMENT: i64 = 1_000_000_000;
/// Longest adjustment reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// How many ledger entries the user page shows (newest first).
pub const LEDGER_LINES: i64 = 200;
/// Longest search string used; longer input is cut (no username is longer than 150).
const MAX_SEARCH_CHARS: usize = 150;

/// Credit adds tokens, debit takes them away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Add tokens.
    Credit,
    /// Remove tokens (never below zero).
    Debit,
}

/// Everything the user page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    /// The account with its balance.
    pub user: User,
    /// The newest [`LEDGER_LINES`] entries, newest first.
    pub ledger: Vec<LedgerLine>,
    /// The newest page of the user's chats, with the total count.
    pub chats: Page<ChatLine>,
    /// The user's API keys, newest first.
    pub api_keys: Vec<ApiKey>,
    /// When this was read (which keys have expired is judged at this instant).
    pub read_at: DateTime<Utc>,
}

/// Admin use cases on accounts.
pub struct AdminUsers {
    admin: Arc<dyn AdminRepository>,
    users: Arc<dyn UserRepository>,
    keys: Arc<dyn ApiKeyRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    login_throttle: Arc<LoginThrottle>,
}

impl AdminUsers {
    /// Wires the use case; `login_throttle` is the one every login form counts failures in.
    pub fn new(
        admin: Arc<dyn AdminRepository>,
        users: Arc<dyn UserRepository>,
        keys: Arc<dyn ApiKeyRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        login_throttle: Arc<LoginThrottle>,
    ) -> Self {
        Self {
            admin,
            users,
            keys,
            hasher,
            clock,
            login_throttle,
        }
    }

    /// Page `page` of the users whose name contains `search` (case-insensitively, by username key
    /// so "ＪＯＨＮ" finds "john"), ordered by id.
    pub async fn list(
        &self,
        search: Option<&str>,
        page: i64,
    ) -> Result<Paged<UserSummary>, AdminError> {
        let window = window(page)?;
        // No username contains a NUL, and PostgreSQL text cannot hold one: drop them.
        let search = search.map(|s| s.replace('\0', ""));
        let search = search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let cut: String = s.chars().take(MAX_SEARCH_CHARS).collect();
                UsernameKey::of(&cut).as_str().to_owned()
            });
        paged(page, self.admin.list_users(search, window).await?)
    }

    /// The user page's content, or `NotFound`.
    pub async fn detail(&self, id: UserId) -> Result<UserDetail, AdminError> {
        let user = self
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let ledger = self.admin.user_ledger(id, LEDGER_LINES).await?;
        let chats = self
            .admin
            .list_chats(
                ChatFilter {
                    user: Some(id),
                    ..ChatFilter::default()
                },
                Window {
                    offset: 0,
                    limit: PAGE_SIZE,
                },
            )
            .await?;
        let api_keys = self.keys.list_api_keys(id).await?;
        Ok(UserDetail {
            user,
            ledger,
            chats,
            api_keys,
            read_at: self.clock.now(),
        })
    }

    /// Credits or debits `amount` (a positive whole number as typed) with a non-empty `reason`,
    /// recorded as an `admin_adjustment` entry naming `actor`. Returns the new balance. A debit
    /// larger than the balance is refused and changes nothing.
    pub async fn adjust(
        &self,
        actor: &User,
        id: UserId,
        direction: Direction,
        amount: &str,
        reason: &str,
    ) -> Result<Tokens, AdminError> {
        let mut errors = domain::FieldErrors::new();
        let amount = match amount.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_ADJUSTMENT).contains(&n) => Some(n),
            _ => {
                errors.add(
                    "amount",
                    format!("Enter a whole number from 1 to {MAX_ADJUSTMENT}."),
                );
                None
            }
        };
        let reason = reason.trim();
        if reason.is_empty() {
            errors.add("reason", "A reason is required.");
        } else if reason.contains('\0') {
            // PostgreSQL text cannot store NUL; refuse it on every backend alike.
            errors.add("reason", "Null characters are not allowed.");
        } else if reason.chars().count() > MAX_REASON_CHARS {
            errors.add(
                "reason",
                format!("Ensure the reason has no more than {MAX_REASON_CHARS} characters."),
            );
        }
        let Some(amount) = amount.filter(|_| errors.is_empty()) else {
            return Err(AdminError::Validation(errors));
        };
        let signed = match direction {
            Direction::Credit => amount,
            Direction::Debit => -amount,
        };
        let outcome = self
            .admin
            .adjust_tokens(TokenAdjustment {
                user_id: id,
                actor_id: actor.id,
                amount: Tokens::new(signed),
                reason: reason.to_owned(),
                at: self.clock.now(),
            })
            .await?;
        match outcome {
            Adjusted::Applied(balance) => {
                tracing::info!(
                    admin_id = actor.id.0,
                    user_id = id.0,
                    amount = signed,
                    "admin adjusted tokens"
                );
                Ok(balance)
            }
            Adjusted::InsufficientTokens { available } => Err(AdminError::invalid_field(
                "amount",
                format!("Insufficient tokens: {amount} needed, {available} left"),
            )),
            Adjusted::UserNotFound => Err(AdminError::NotFound),
        }
    }

    /// Activates or deactivates an account. A deactivated account's tokens stop working at once
    /// (every request reloads the user), and stay dead after a reactivation (deactivating moves
    /// the credentials version on). An admin cannot deactivate themselves: that would lock them
    /// out mid-session with no one left to undo it.
    pub async fn set_active(
        &self,
        actor: &User,
        id: UserId,
        active: bool,
    ) -> Result<(), AdminError> {
        if !active && actor.id == id {
            return Err(AdminError::invalid_field(
                "active",
                "You cannot deactivate your own account.",
            ));
        }
        if !self.admin.set_active(id, active).await? {
            return Err(AdminError::NotFound);
        }
        tracing::info!(
            admin_id = actor.id.0,
            user_id = id.0,
            active,
            "admin set active"
        );
        Ok(())
    }

    /// Sets a new password (validated like a sign-up password) and ends every session: tokens
    /// issued until now stop working (the credentials version moves on), so devices logged in
    /// with the old password must log in again.
    pub async fn reset_password(
        &self,
        actor: &User,
        id: UserId,
        password: &str,
    ) -> Result<(), AdminError> {
        let user = self
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let password = PlainPassword::parse(password, &user.username)
            .map_err(|e| AdminError::invalid_field("password", e.message))?;
        let hash = self.hasher.hash(&password).await?;
        if !self.admin.set_password(id, hash).await? {
            return Err(AdminError::NotFound);
        }
        tracing::info!(
            admin_id = actor.id.0,
            user_id = id.0,
            "admin reset password"
        );
        Ok(())
    }

    /// Revokes one of the user's API keys at once (a password reset leaves keys alone, so this is
    /// how an admin ends a leaked key). A key of another user is `NotFound`.
    pub async fn revoke_api_key(
        &self,
        actor: &User,
        id: UserId,
        key: ApiKeyId,
    ) -> Result<(), AdminError> {
        if !self.keys.revoke_api_key(id, key).await? {
            return Err(AdminError::NotFound);
        }
        tracing::info!(
            admin_id = actor.id.0,
            user_id = id.0,
            key = key.0,
            "admin revoked an API key"
        );
        Ok(())
    }

    /// Lifts the account's failed-login locks (see [`LoginThrottle::lift`]); returns how many
    /// counted failures were forgotten.
    pub async fn lift_login_lock(&self, actor: &User, id: UserId) -> Result<u64, AdminError> {
        let user = self
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let forgotten = self.login_throttle.lift(user.username.as_str()).await?;
        tracing::info!(
            admin_id = actor.id.0,
            user_id = id.0,
            forgotten,
            "admin lifted login lock"
        );
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests;
