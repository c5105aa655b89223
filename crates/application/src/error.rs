//! The one error type of the application layer.

use domain::{FieldErrors, Tokens};
use ports::{HasherError, StorageError, TokenError};

/// Why a use case did not succeed. Each variant is one client-visible outcome; the HTTP edge maps
/// each to exactly one status and `code` (see `crates/api/src/problem.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Input broke a rule; per-field messages.
    #[error("invalid request")]
    Validation(FieldErrors),
    /// The username (case-insensitively) belongs to another account.
    #[error("A user with that username already exists.")]
    UsernameTaken,
    /// Unknown user, wrong password or inactive account: deliberately indistinguishable.
    #[error("No active account found with the given credentials")]
    InvalidCredentials,
    /// The token is unusable, or its user no longer exists or is inactive.
    #[error("Given token not valid for any token type")]
    TokenInvalid(TokenError),
    /// The credential is valid but not enough for this request: key management needs a login
    /// (an access token), so a leaked API key cannot mint, list or revoke keys.
    #[error("API keys cannot manage API keys; use an access token from /login/ for this request.")]
    LoginRequired,
    /// What was asked for does not exist, or is not the caller's; the text says what.
    #[error("{0}")]
    NotFound(&'static str),
    /// The account already holds the most live API keys it may.
    #[error("At most {limit} live API keys per account; revoke one before creating another.")]
    TooManyApiKeys {
        /// The limit.
        limit: u32,
    },
    /// A request named a model this server does not serve.
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// The balance does not cover the price.
    #[error("Insufficient tokens: {needed} needed, {available} left")]
    InsufficientTokens {
        /// The price.
        needed: Tokens,
        /// The balance.
        available: Tokens,
    },
    /// The idempotency key was already used for a different request.
    #[error("This Idempotency-Key was already used with a different request.")]
    IdempotencyKeyReused,
    /// A request with this idempotency key is still running after waiting for it.
    #[error("A request with this Idempotency-Key is still in progress.")]
    IdempotencyKeyInProgress,
    /// The responder failed; the user was not charged.
    #[error("The responder failed; you were not charged.")]
    ResponderFailed,
    /// The responder took too long; the user was not charged.
    #[error("The responder timed out; you were not charged.")]
    ResponderTimeout,
    /// Too many answers are being written at once; nothing was charged.
    #[error("The responder is busy; you were not charged. Retry in {retry_after_secs} seconds.")]
    ResponderBusy {
        /// Seconds until a retry is likely to find room (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Too many attempts (failed logins, sign-ups) from this client or for this account; the
    /// request was refused without being examined.
    #[error("Request was throttled. Expected available in {retry_after_secs} seconds.")]
    Throttled {
        /// Seconds until the oldest counted attempt leaves the window (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Storage is unreachable or busy; retry later.
    #[error("Storage is temporarily unavailable; please retry.")]
    StorageUnavailable,
    /// A bug or corrupt data. The string is for logs only.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// One field's single validation message.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Self::Validation(errors)
    }
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(reason) => {
                tracing::warn!(%reason, "storage unavailable");
                Self::StorageUnavailable
            }
            StorageError::Internal(reason) => Self::Internal(reason),
        }
    }
}

impl From<HasherError> for AppError {
    fn from(error: HasherError) -> Self {
        Self::Internal(error.to_string())
    }
}
