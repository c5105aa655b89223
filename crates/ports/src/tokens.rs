//! Signed, expiring credentials (JWT in production).

use chrono::{DateTime, Utc};
use domain::UserId;
use uuid::Uuid;

/// What a token may be used for. A token of one kind is never accepted where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived; authorises API calls.
    Access,
    /// Long-lived; only buys new access tokens.
    Refresh,
}

/// The verified content of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Whose token it is.
    pub user_id: UserId,
    /// Access or refresh.
    pub kind: TokenKind,
    /// Unique id, the handle for revocation.
    pub jti: Uuid,
    /// The login session a refresh token descends from (its `fam` claim): the first refresh
    /// token's `jti`, carried across rotations so that theft detection can revoke them all.
    /// Tokens without a `fam` claim (access tokens, tokens from before families existed) are a
    /// family of their own: `family == jti`.
    pub family: Uuid,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A freshly signed token and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The encoded token handed to the client.
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

/// Why a token was not accepted. Clients get one answer for all of them (401 `token_invalid`); the
/// variants exist for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, bad signature, wrong algorithm, missing claims.
    #[error("malformed or forged token")]
    Malformed,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// A refresh token where an access token belongs, or the other way round.
    #[error("wrong token type")]
    WrongKind,
    /// Revoked by logout, rotated out, or part of a family revoked after reuse was detected.
    #[error("token revoked")]
    Revoked,
    /// Signing failed (a misconfigured key).
    #[error("could not sign token: {0}")]
    Signing(String),
}

/// Issues and verifies tokens. Pure CPU work (an HMAC), so synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs a new token of `kind` for `user_id`, valid from `now` for the configured lifetime.
    fn issue(
        &self,
        user_id: UserId,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError>;

    /// Signs a refresh token that continues the login session `family` (refresh-token
    /// rotation), valid from `now` for the configured refresh lifetime.
    fn issue_refresh_in_family(
        &self,
        user_id: UserId,
        family: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError>;

    /// Verifies signature, algorithm, expiry (against `now`) and kind. MUST reject every token not
    /// signed by this issuer's key with its pinned algorithm.
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError>;
}
