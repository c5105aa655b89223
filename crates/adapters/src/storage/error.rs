//! Translating driver errors into the storage port's contract.

use diesel::result::{DatabaseErrorKind, Error};
use ports::StorageError;

/// Classifies a diesel error. Connection loss, lock timeouts and other transient server-side
/// failures are `Unavailable` (503, retry later); everything else is a bug (`Internal`).
pub fn classify(error: Error) -> StorageError {
    match &error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::Unknown,
            info,
        ) => StorageError::Unavailable(info.message().to_owned()),
        Error::BrokenTransactionManager | Error::AlreadyInTransaction => {
            StorageError::Unavailable(error.to_string())
        }
        _ => StorageError::Internal(error.to_string()),
    }
}

/// The pool had no connection within its checkout timeout, or could not open one.
pub fn pool_unavailable(error: r2d2::Error) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

/// True for the error a unique index raises; callers turn it into a business outcome.
pub fn is_unique_violation(error: &Error) -> bool {
    matches!(
        error,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}
