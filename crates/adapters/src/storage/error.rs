//! Translating driver errors into the storage port's contract: a failure that retrying later can
//! cure is [`StorageError::Unavailable`] (503 + `Retry-After`); anything else is a bug in a query,
//! the schema or the data, [`StorageError::Internal`] (500, logged at `error` with its cause).
//!
//! diesel exposes neither SQLite's result code nor PostgreSQL's SQLSTATE for most errors: both
//! drivers report them as [`DatabaseErrorKind::Unknown`] with the server's message. So the
//! classification uses what diesel does expose, in this order:
//!
//! 1. The kinds diesel derives from the connection state or a SQLSTATE it knows:
//!    `ClosedConnection` and `UnableToSendCommand` (the connection broke), `SerializationFailure`
//!    (a concurrent transaction won; the retry succeeds), `ReadOnlyTransaction` (our statements
//!    never ask for a read-only transaction, so the server itself is read-only: a standby during a
//!    failover, or maintenance).
//! 2. For `Unknown`, the message prefixes in [`TRANSIENT_MESSAGE_PREFIXES`].
//! 3. `BrokenTransactionManager`: diesel's state after a rollback failed, which happens when the
//!    connection broke mid-transaction; r2d2 discards such a connection when it returns to the
//!    pool. `RollbackErrorOnCommit` follows its commit and rollback errors.
//!
//! Everything else is `Internal`: syntax errors, missing tables or columns, constraint violations
//! a caller did not expect, `NotFound` from a query that had to return a row, nested-transaction
//! misuse (`AlreadyInTransaction`, `NotInTransaction`).
//!
//! The prefixes match the servers' English messages, which is what SQLite always produces and what
//! the test PostgreSQL clusters produce (`scripts/pg-cluster` sets `lc_messages=C`). A PostgreSQL
//! server whose `lc_messages` is another language words these errors differently: they are then
//! classified `Internal` (500 instead of 503), while the connection-level kinds above still apply.

use diesel::result::{DatabaseErrorKind, Error};
use ports::StorageError;

/// Message prefixes of transient failures that diesel reports as [`DatabaseErrorKind::Unknown`].
/// Each names a condition outside the query itself that a later retry can find gone.
pub const TRANSIENT_MESSAGE_PREFIXES: &[&str] = &[
    // SQLite: another connection holds the lock past `busy_timeout` (SQLITE_BUSY).
    "database is locked",
    // SQLite: a conflicting lock inside a shared cache (SQLITE_LOCKED).
    "database table is locked",
    // SQLite: the operating system failed a read or write (SQLITE_IOERR).
    "disk I/O error",
    // SQLite: the disk or the configured maximum size is full (SQLITE_FULL).
    "database or disk is full",
    // PostgreSQL: the statement ran past `database.statement_timeout_ms` (57014), typically
    // waiting on a lock held by a slow transaction.
    "canceling statement due to statement timeout",
    // PostgreSQL: the server aborted this transaction to break a lock cycle (40P01).
    "deadlock detected",
    // PostgreSQL: the server is ending this session (shutdown, `pg_terminate_backend`, idle
    // timeout, crash recovery of another backend: 57P01, 57P02, 57P05, ...).
    "terminating connection",
    // PostgreSQL: the server is not accepting sessions yet or any more (57P03).
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    // libpq: the connection to the server broke. diesel usually reports these as
    // `ClosedConnection` or `UnableToSendCommand`; the prefixes cover the races where the
    // connection's state was not yet known to be bad.
    "server closed the connection unexpectedly",
    "no connection to the server",
    "could not connect to server",
    "connection to server ",
    "could not receive data from server",
    "could not send data to server",
    // libpq over TLS: the same breaks, seen from inside the TLS layer (EOF, reset, or the
    // server's TLS close without a PostgreSQL goodbye).
    "SSL SYSCALL error",
    "SSL connection has been closed unexpectedly",
];

/// Classifies a diesel error by its cause (see the module documentation).
pub fn classify(error: Error) -> StorageError {
    let reason = error.to_string();
    if is_transient(&error) {
        StorageError::Unavailable(reason)
    } else {
        StorageError::Internal(reason)
    }
}

fn is_transient(error: &Error) -> bool {
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction,
            _,
        )
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            has_transient_prefix(info.message())
        }
        Error::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => is_transient(commit_error) || is_transient(rollback_error),
        _ => false,
    }
}

fn has_transient_prefix(message: &str) -> bool {
    TRANSIENT_MESSAGE_PREFIXES
        .iter()
        .any(|prefix| message.starts_with(prefix))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    fn unknown(message: &str) -> Error {
        database_error(DatabaseErrorKind::Unknown, message)
    }

    fn assert_unavailable(error: Error) {
        let shown = format!("{error:?}");
        assert!(
            matches!(classify(error), StorageError::Unavailable(_)),
            "{shown} should be Unavailable"
        );
    }

    fn assert_internal(error: Error) {
        let shown = format!("{error:?}");
        assert!(
            matches!(classify(error), StorageError::Internal(_)),
            "{shown} should be Internal"
        );
    }

    /// One test per documented prefix, each with a message as the server words it (the prefix
    /// followed by the rest of the real message, where there is one).
    macro_rules! transient_message_tests {
        ($($name:ident: $message:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    assert_unavailable(unknown($message));
                }
            )*

            /// Every message tested above.
            const TESTED_MESSAGES: &[&str] = &[$($message),*];
        };
    }

    transient_message_tests! {
        sqlite_database_is_locked_is_unavailable: "database is locked";
        sqlite_database_table_is_locked_is_unavailable: "database table is locked: users";
        sqlite_disk_io_error_is_unavailable: "disk I/O error";
        sqlite_database_or_disk_is_full_is_unavailable: "database or disk is full";
        postgres_statement_timeout_is_unavailable: "canceling statement due to statement timeout";
        postgres_deadlock_is_unavailable: "deadlock detected";
        postgres_terminating_connection_is_unavailable:
            "terminating connection due to administrator command";
        postgres_starting_up_is_unavailable: "the database system is starting up";
        postgres_shutting_down_is_unavailable: "the database system is shutting down";
        postgres_in_recovery_is_unavailable: "the database system is in recovery mode";
        postgres_not_yet_accepting_is_unavailable:
            "the database system is not yet accepting connections";
        libpq_server_closed_the_connection_is_unavailable:
            "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n";
        libpq_no_connection_is_unavailable: "no connection to the server\n";
        libpq_could_not_connect_is_unavailable:
            "could not connect to server: Connection refused";
        libpq_connection_to_server_failed_is_unavailable:
            "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused";
        libpq_could_not_receive_is_unavailable:
            "could not receive data from server: Connection reset by peer";
        libpq_could_not_send_is_unavailable: "could not send data to server: Broken pipe";
        libpq_ssl_eof_is_unavailable: "SSL SYSCALL error: EOF detected";
        libpq_ssl_closed_is_unavailable: "SSL connection has been closed unexpectedly\n";
    }

    #[test]
    fn every_documented_prefix_has_its_own_test() {
        for prefix in TRANSIENT_MESSAGE_PREFIXES {
            let tests = TESTED_MESSAGES
                .iter()
                .filter(|message| message.starts_with(prefix))
                .count();
            assert_eq!(tests, 1, "{prefix:?} is tested by {tests} messages");
        }
    }

    #[test]
    fn connection_level_kinds_are_unavailable() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
            DatabaseErrorKind::SerializationFailure,
            DatabaseErrorKind::ReadOnlyTransaction,
        ] {
            assert_unavailable(database_error(kind, "whatever the server said"));
        }
        assert_unavailable(Error::BrokenTransactionManager);
    }

    #[test]
    fn query_bugs_are_internal() {
        for message in [
            "no such table: chats",
            "near \"SELEC\": syntax error",
            "relation \"chats\" does not exist",
            "column \"nope\" does not exist",
            "syntax error at or near \"SELEC\"",
            "canceling statement due to user request",
            "Received an empty query",
            // A transient prefix in the middle of a message is not a transient cause.
            "value \"database is locked\" is too long for type character varying(5)",
        ] {
            assert_internal(unknown(message));
        }
    }

    #[test]
    fn unexpected_constraint_violations_and_misuse_are_internal() {
        for kind in [
            DatabaseErrorKind::UniqueViolation,
            DatabaseErrorKind::ForeignKeyViolation,
            DatabaseErrorKind::NotNullViolation,
            DatabaseErrorKind::CheckViolation,
        ] {
            // Even with a transient-looking message: the kind decides.
            assert_internal(database_error(kind, "database is locked"));
        }
        assert_internal(Error::NotFound);
        assert_internal(Error::AlreadyInTransaction);
        assert_internal(Error::NotInTransaction);
    }

    #[test]
    fn a_failed_commit_is_classified_by_its_causes() {
        let rollback_after = |commit_error: Error| Error::RollbackErrorOnCommit {
            rollback_error: Box::new(database_error(
                DatabaseErrorKind::UnableToSendCommand,
                "no connection to the server\n",
            )),
            commit_error: Box::new(commit_error),
        };
        assert_unavailable(rollback_after(database_error(
            DatabaseErrorKind::ClosedConnection,
            "server closed the connection unexpectedly",
        )));
        assert_internal(Error::RollbackErrorOnCommit {
            rollback_error: Box::new(Error::NotInTransaction),
            commit_error: Box::new(unknown("relation \"x\" does not exist")),
        });
    }

    #[test]
    fn the_reason_keeps_the_drivers_message() {
        assert_eq!(
            classify(unknown("no such table: chats")),
            StorageError::Internal("no such table: chats".into())
        );
    }
}
