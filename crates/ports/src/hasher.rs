//! Password hashing (bcrypt in production). Async because hashing is deliberately slow and must
//! not run on the request event loop.

use async_trait::async_trait;
use domain::PlainPassword;

/// A stored password hash in the hasher's own format.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// The hasher failed (a corrupt stored hash, or its worker was lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HasherError(pub String);

/// Hashes and verifies passwords.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password with a fresh salt.
    async fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, HasherError>;

    /// True when `password` matches `hash`. MUST take the same time for any wrong password as for
    /// the right one, and `Ok(false)` (not an error) for a well-formed mismatch.
    async fn verify(
        &self,
        password: &PlainPassword,
        hash: &PasswordHash,
    ) -> Result<bool, HasherError>;

    /// A valid hash of a random secret, verified against when a login names no existing user so
    /// that the answer takes as long as for a real user (no username enumeration by timing).
    fn dummy_hash(&self) -> PasswordHash;

    /// Whether `hash` was made with other parameters (a bcrypt cost) than new hashes get, so the
    /// password should be hashed again the next time it is known (at login).
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}
