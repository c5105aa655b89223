//! Revoked refresh tokens and token families (logout, rotation, theft detection).
//!
//! A *family* is every refresh token descended from one login: the first refresh token's `jti`
//! names it, and each rotation carries it to the next token. Revoking a family ends that login
//! session everywhere at once, which is what reuse of a rotated-out token (a sign of theft) calls for.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use uuid::Uuid;

use crate::error::StorageError;

/// What storage needs to know about a refresh token to revoke it or to rotate it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The token's own id.
    pub jti: Uuid,
    /// The login session it belongs to.
    pub family: Uuid,
    /// Whose token it is (for audits; revocation is keyed by `jti` and `family`).
    pub user_id: UserId,
    /// When the record may be forgotten: after this, the token is expired anyway. Callers add
    /// their clock-skew leeway.
    pub jti_expires_at: DateTime<Utc>,
    /// When a revocation of the whole family may be forgotten: after the newest token the family
    /// can have has expired.
    pub family_expires_at: DateTime<Utc>,
}

/// Result of [`RevocationRepository::rotate_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and is now rotated out; the caller may issue its successor.
    Rotated,
    /// The token had already been rotated out: someone replayed it. The whole family is now
    /// revoked.
    ReuseDetected,
    /// The token or its family had been revoked (logout, earlier theft detection). Nothing changed.
    Revoked,
}

/// Stores revocations. Every method is one atomic operation, safe when several processes share
/// the database.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RevocationRepository: Send + Sync {
    /// True when the token `jti` or its `family` has been revoked or rotated out.
    async fn is_revoked(&self, jti: uuid::Uuid, family: uuid::Uuid) -> Result<bool, StorageError>;

    /// Marks the token as rotated out, in one transaction. MUST return `Rotated` for exactly one
    /// of any number of concurrent calls with the same live token; every other call, and every
    /// later one, gets `ReuseDetected` and the family is revoked. MUST return `Revoked` (changing
    /// nothing) when the token or its family is already revoked other than by rotation.
    async fn rotate_out(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StorageError>;

    /// Revokes the token and its family (logout ends the login session). Idempotent: revoking
    /// twice is not an error.
    async fn revoke(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// Deletes revocation records whose expiry is before `now`; returns how many went.
    async fn prune_revocations(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;
}
