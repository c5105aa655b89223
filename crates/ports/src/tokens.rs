//! Signed, expiring credentials (JWT in production).

use chrono::{DateTime, Utc};
use domain::{User, UserId};
use uuid::Uuid;

/// What a token may be used for. A token of one kind is never accepted where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived; authorises API calls.
    Access,
    /// Long-lived; only buys new access tokens.
    Refresh,
}

/// Whom a token is issued to: the account and its credentials version at the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSubject {
    /// The account.
    pub user_id: UserId,
    /// The account's [`User::credentials_version`] when the token is issued; the token stops
    /// working once the account's version moves on.
    pub credentials_version: i64,
}

impl From<&User> for TokenSubject {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id,
            credentials_version: user.credentials_version,
        }
    }
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
    /// The account's credentials version the token was issued under (a token from before
    /// versions existed carries none and counts as version 0).
    pub credentials_version: i64,
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
/// variants exist for logs and tests, so each names one cause. The issuer decides the first three
/// ([`TokenIssuer::verify`]); the use cases decide the rest, from what storage says about the
/// token and its account.
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
    /// The token's account no longer exists (deleted after the token was issued, possibly while
    /// the request was running).
    #[error("token of user {} whose account no longer exists", .0.0)]
    AccountGone(UserId),
    /// The token's account is deactivated.
    #[error("token of user {} whose account is deactivated", .0.0)]
    AccountInactive(UserId),
    /// The token was issued under an older credentials version: the password was reset or the
    /// account deactivated since.
    #[error("token of user {} issued before its credentials changed", .0.0)]
    CredentialsChanged(UserId),
    /// A valid token of one account presented by another (logout with someone else's refresh
    /// token).
    #[error("token of user {} presented by user {}", .owner.0, .presenter.0)]
    OtherAccount {
        /// Whose token it is.
        owner: UserId,
        /// Who presented it.
        presenter: UserId,
    },
    /// An API key that matches no stored key: never issued, or revoked.
    #[error("unknown or revoked API key")]
    UnknownApiKey,
    /// An API key past its expiry.
    #[error("API key {} expired", .0.0)]
    ApiKeyExpired(crate::ApiKeyId),
    /// Signing failed (a misconfigured key).
    #[error("could not sign token: {0}")]
    Signing(String),
}

/// Issues and verifies tokens. Pure CPU work (an HMAC), so synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs a new token of `kind` for `subject`, valid from `now` for the configured lifetime.
    fn issue(
        &self,
        subject: TokenSubject,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError>;

    /// Signs a refresh token that continues the login session `family` (refresh-token
    /// rotation), valid from `now` for the configured refresh lifetime.
    fn issue_refresh_in_family(
        &self,
        subject: TokenSubject,
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
