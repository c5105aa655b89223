//! The one failure every storage port shares.

/// Storage could not do what was asked. Business outcomes (a taken name, too few tokens) are not
/// errors: each method returns them in its own result type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The database is unreachable, busy beyond its timeout, or the pool is exhausted. Nothing was
    /// committed; the caller may retry later (HTTP 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data. Nothing was committed.
    #[error("storage failure: {0}")]
    Internal(String),
}
