//! Connection pools for either backend, per-connection setup, and migrations.

use std::{path::Path, time::Duration};

use diesel::{
    Connection, PgConnection, RunQueryDsl, SqliteConnection,
    connection::{AnsiTransactionManager, SimpleConnection, TransactionManager},
    r2d2::{ConnectionManager, CustomizeConnection, HandleError, Pool},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{queries, sqlite::SqliteDatabase, url::DatabaseUrl};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating, so replicas starting together
/// migrate one at a time ("chatapi" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x63_68_61_74_61_70_69;

/// First half of the two-part PostgreSQL advisory lock keys of [`KeyLocks`] ("ct" for counters);
/// two-part keys live apart from one-part ones like [`MIGRATION_LOCK_KEY`].
const KEY_LOCK_NAMESPACE: i32 = 0x63_74;

/// Runs `$body` with `$conn` (a pooled connection of the configured backend) and `$migrations`
/// (a function returning that backend's embedded migrations), mapping any error to [`DatabaseError::Migrate`].
macro_rules! with_migrations {
    ($db:expr, |$conn:ident, $migrations:ident| $body:expr) => {
        match $db {
            Database::Sqlite(sqlite) => {
                let mut $conn = sqlite
                    .maintenance
                    .get()
                    .map_err(|e| DatabaseError::Migrate(e.to_string()))?;
                let $migrations = || SQLITE_MIGRATIONS;
                let result: Result<_, Box<dyn std::error::Error + Send + Sync>> = $body;
                result.map_err(|e| DatabaseError::Migrate(e.to_string()))
            }
            Database::Postgres(pool) => {
                let mut $conn = pool
                    .get()
                    .map_err(|e| DatabaseError::Migrate(e.to_string()))?;
                let $migrations = || POSTGRES_MIGRATIONS;
                let result: Result<_, Box<dyn std::error::Error + Send + Sync>> = $body;
                result.map_err(|e| DatabaseError::Migrate(e.to_string()))
            }
        }
    };
}

/// libpq's wait for a new connection (TCP, TLS and authentication) when the URL names none: libpq
/// itself waits forever, so a database host that drops packets would hang startup, and every
/// pool thread refilling the pool, until the network came back.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 10;

/// `conninfo` (a `postgres://` URL) with `connect_timeout` set to
/// [`DEFAULT_CONNECT_TIMEOUT_SECS`] unless it already sets one.
fn with_connect_timeout(conninfo: &str) -> String {
    let query = conninfo.split_once('?').map(|(_, query)| query);
    let has_timeout = query.is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("connect_timeout"))
    });
    match (has_timeout, query) {
        (true, _) => conninfo.to_owned(),
        (false, Some(_)) => format!("{conninfo}&connect_timeout={DEFAULT_CONNECT_TIMEOUT_SECS}"),
        (false, None) => format!("{conninfo}?connect_timeout={DEFAULT_CONNECT_TIMEOUT_SECS}"),
    }
}

/// [`PoolSettings::queue_capacity`] unless configured: several times what a few thousand requests
/// per second queue while one batch commits.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Tuning of the pool and of every connection it opens.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Connections kept at most.
    pub max_connections: u32,
    /// Longest a request waits for a free connection before it gets 503.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock before giving up.
    pub busy_timeout: Duration,
    /// PostgreSQL: longest any one statement may run.
    pub statement_timeout: Duration,
    /// SQLite: operations that may wait for the writer (and, apart, reads for the readers);
    /// beyond that a call fails at once as unavailable (503) rather than queueing without bound.
    pub queue_capacity: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            busy_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

/// The connection pool of the configured backend.
#[derive(Clone)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(SqliteDatabase),
    /// A PostgreSQL server.
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "Database::Sqlite",
            Self::Postgres(_) => "Database::Postgres",
        })
    }
}

/// A sample of [`Database::pool_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionState {
    /// Connections the request path may use.
    pub max: u32,
    /// Of those, busy now.
    pub in_use: u32,
    /// Calls waiting for a connection, when the database knows.
    pub waiting: Option<u32>,
}

/// Opening or migrating the database failed at startup.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// No connection could be opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// PostgreSQL's TLS handshake or certificate check failed, or TLS was required and the server
    /// offers none.
    #[error(
        "cannot connect to the database: TLS failed (check sslmode and sslrootcert in the database URL): {0}"
    )]
    Tls(String),
    /// A migration failed; the database is left at the last good version.
    #[error("migration failed: {0}")]
    Migrate(String),
}

impl DatabaseError {
    /// A failed PostgreSQL connection, with the URL's passwords hidden, named TLS when libpq's
    /// message is about SSL or certificates (libpq never says "TLS"). A `pg_hba.conf` refusal
    /// mentions "SSL encryption" too, but is an access rule, not a TLS failure.
    fn postgres_connect(url: &DatabaseUrl, error: &dyn std::fmt::Display) -> Self {
        let message = url.hide_secrets(error.to_string().trim_end());
        let about_tls = ["SSL", "sslmode", "certificate"]
            .iter()
            .any(|word| message.contains(word))
            && !message.contains("pg_hba.conf");
        if about_tls {
            Self::Tls(message)
        } else {
            Self::Connect(message)
        }
    }
}

/// Logs a failed pool connection as r2d2's default handler would, minus any password libpq
/// quoted from the URL.
#[derive(Debug)]
struct RedactingErrorLog(DatabaseUrl);

impl HandleError<diesel::r2d2::Error> for RedactingErrorLog {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::error!(error = %self.0.hide_secrets(&error.to_string()), "database connection failed");
    }
}

#[derive(Debug)]
struct PostgresSetup {
    statement_timeout: Duration,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PostgresSetup {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET TIME ZONE 'UTC';",
            self.statement_timeout.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Database {
    /// Opens a pool. SQLite files are created if missing (owner-only, see
    /// [`create_private_file`]) and switched to WAL, so readers never block the writer.
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, DatabaseError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                create_private_file(path)?;
                let path = path.to_string_lossy();
                SqliteDatabase::open(&path, settings).map(Self::Sqlite)
            }
            DatabaseUrl::Postgres(conninfo) => {
                let conninfo = &with_connect_timeout(conninfo);
                // Before libpq first initialises OpenSSL: OpenSSL must not free its state at
                // process exit, when an r2d2 worker may still be in a TLS handshake (a segfault
                // at exit otherwise). The first initialisation decides; libpq's later one keeps it.
                openssl_sys::init();
                // One connection first, outside the pool: a TLS or authentication failure is
                // reported at once with libpq's own words, instead of being retried until the
                // acquire timeout.
                PgConnection::establish(conninfo)
                    .map_err(|e| DatabaseError::postgres_connect(url, &e))?;
                let pool = Pool::builder()
                    .max_size(settings.max_connections)
                    .min_idle(Some(1))
                    .connection_timeout(settings.acquire_timeout)
                    .connection_customizer(Box::new(PostgresSetup {
                        statement_timeout: settings.statement_timeout,
                    }))
                    .error_handler(Box::new(RedactingErrorLog(url.clone())))
                    .build(ConnectionManager::new(conninfo.clone()))
                    .map_err(|e| DatabaseError::postgres_connect(url, &e))?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    /// Applies pending migrations, then fills what SQL cannot compute (the username skeletons of
    /// accounts that lack one, see `fill_username_skeletons`); returns how many migrations ran.
    /// Safe when several processes start at once: SQLite serialises them with `BEGIN IMMEDIATE`,
    /// PostgreSQL with an advisory lock.
    pub fn migrate(&self) -> Result<usize, DatabaseError> {
        let migrate_error = |e: &dyn std::fmt::Display| DatabaseError::Migrate(e.to_string());
        match self {
            Self::Sqlite(sqlite) => {
                let mut conn = sqlite.maintenance.get().map_err(|e| migrate_error(&e))?;
                let applied = conn
                    .immediate_transaction(|conn| {
                        conn.run_pending_migrations(SQLITE_MIGRATIONS)
                            .map(|applied| applied.len())
                            .map_err(|e| MigrationFailure(e.to_string()))
                    })
                    .map_err(|e| migrate_error(&e))?;
                queries::sqlite::fill_username_skeletons(&mut conn)
                    .map_err(|e| migrate_error(&e))?;
                Ok(applied)
            }
            Self::Postgres(pool) => {
                let mut conn = pool.get().map_err(|e| migrate_error(&e))?;
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .execute(&mut *conn)
                    .map_err(|e| migrate_error(&e))?;
                let result = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|applied| applied.len())
                    .map_err(|e| migrate_error(&e))
                    .and_then(|applied| {
                        queries::postgres::fill_username_skeletons(&mut conn)
                            .map(|_| applied)
                            .map_err(|e| migrate_error(&e))
                    });
                let unlocked =
                    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                        .execute(&mut *conn)
                        .map_err(|e| migrate_error(&e));
                let applied = result?;
                unlocked?;
                Ok(applied)
            }
        }
    }

    /// The request path's connections: how many at most, how many busy, and how many calls wait
    /// for one. SQLite counts the writer and the readers, and a queued operation as waiting;
    /// PostgreSQL counts the pool's connections (calls waiting are counted by the caller).
    pub fn pool_state(&self) -> ConnectionState {
        match self {
            Self::Sqlite(sqlite) => {
                let (writes_queued, writing) = sqlite.writer.usage();
                let (readers, reading, reads_queued) = sqlite.readers.usage();
                let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                ConnectionState {
                    max: count(readers + 1),
                    in_use: count(reading + usize::from(writing)),
                    waiting: Some(count(writes_queued + reads_queued)),
                }
            }
            Self::Postgres(pool) => {
                let state = pool.state();
                ConnectionState {
                    max: pool.max_size(),
                    in_use: state.connections.saturating_sub(state.idle_connections),
                    waiting: None,
                }
            }
        }
    }

    /// True when every embedded migration has been applied (readiness).
    pub fn migrations_current(&self) -> Result<bool, DatabaseError> {
        with_migrations!(self, |conn, migrations| conn
            .has_pending_migration(migrations())
            .map(|pending| !pending))
    }

    /// Applies only the oldest pending migration; returns whether there was one. For upgrade
    /// tests that need data written under an old schema version.
    pub fn migrate_one_step(&self) -> Result<bool, DatabaseError> {
        with_migrations!(self, |conn, migrations| {
            match conn.has_pending_migration(migrations()) {
                Ok(true) => conn.run_next_migration(migrations()).map(|_| true),
                other => other,
            }
        })
    }

    /// Reverts every migration, newest first (for the up-down-up migration test).
    pub fn revert_all(&self) -> Result<usize, DatabaseError> {
        with_migrations!(self, |conn, migrations| conn
            .revert_all_migrations(migrations())
            .map(|reverted| reverted.len()))
    }
}

/// Creates the SQLite database file, when it does not exist yet, readable and writable by its
/// owner only (mode 0600): it holds password hashes and, in development, the generated JWT
/// secret. SQLite creates the `-wal` and `-shm` files beside it with the database file's
/// permissions. An existing file keeps its mode (an operator's choice); names SQLite does not
/// treat as files (`:memory:`, `file:` URIs) are left to SQLite.
fn create_private_file(path: &Path) -> Result<(), DatabaseError> {
    let name = path.to_string_lossy();
    if name == ":memory:" || name.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(DatabaseError::Connect(format!(
            "cannot create {}: {error}",
            path.display()
        ))),
    }
}

/// A migration error carried through a diesel transaction.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MigrationFailure(String);

impl From<diesel::result::Error> for MigrationFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self(error.to_string())
    }
}

/// A transaction that may write. On SQLite it begins `IMMEDIATE`: a deferred transaction that reads
/// first and writes later can fail with `SQLITE_BUSY` at once, bypassing the busy timeout. Inside a
/// transaction already open (the writer's batch) it is a savepoint.
pub trait WriteTransaction: Connection {
    /// Runs `f` in a write transaction; commits on `Ok`, rolls back on `Err`.
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl WriteTransaction for SqliteConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let depth = AnsiTransactionManager::transaction_manager_status_mut(self)
            .transaction_depth()
            .map_err(E::from)?;
        match depth {
            Some(_) => self.transaction(f),
            None => self.immediate_transaction(f),
        }
    }
}

impl WriteTransaction for PgConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.transaction(f)
    }
}

/// A read-only transaction whose statements all see one snapshot of the database, for reads
/// that must agree with each other across several statements (a statement's opening balance and
/// its entries).
pub trait SnapshotRead: Connection {
    /// Runs `f` in such a transaction.
    fn snapshot_read<T, F>(&mut self, f: F) -> diesel::QueryResult<T>
    where
        F: FnOnce(&mut Self) -> diesel::QueryResult<T>;
}

impl SnapshotRead for SqliteConnection {
    /// A deferred transaction: in WAL mode its first read fixes the snapshot every later read of
    /// the transaction sees, and it never takes the write lock.
    fn snapshot_read<T, F>(&mut self, f: F) -> diesel::QueryResult<T>
    where
        F: FnOnce(&mut Self) -> diesel::QueryResult<T>,
    {
        self.transaction(f)
    }
}

impl SnapshotRead for PgConnection {
    /// `REPEATABLE READ READ ONLY`: under PostgreSQL's default `READ COMMITTED` each statement
    /// would see a snapshot of its own.
    fn snapshot_read<T, F>(&mut self, f: F) -> diesel::QueryResult<T>
    where
        F: FnOnce(&mut Self) -> diesel::QueryResult<T>,
    {
        self.build_transaction()
            .repeatable_read()
            .read_only()
            .run(f)
    }
}

/// Serialises write transactions that name the same keys (throttle buckets): a transaction that
/// calls [`KeyLocks::lock_keys_until_commit`] waits for every other one holding any of its keys
/// to end, and holds them itself until it commits or rolls back.
pub trait KeyLocks: Connection {
    /// Locks `keys` for the rest of the current write transaction.
    fn lock_keys_until_commit(&mut self, keys: &[&str]) -> diesel::QueryResult<()>;
}

impl KeyLocks for SqliteConnection {
    /// Nothing to do: a write transaction (`BEGIN IMMEDIATE`) already excludes every other writer
    /// of the database, in this process and any other, until it ends.
    fn lock_keys_until_commit(&mut self, _keys: &[&str]) -> diesel::QueryResult<()> {
        Ok(())
    }
}

impl KeyLocks for PgConnection {
    /// A transaction-scoped advisory lock per key, taken in ascending order of lock id so two
    /// transactions never wait on each other crosswise. Keys are hashed to 32 bits: two keys that
    /// collide only share a lock, which costs waiting, never correctness.
    fn lock_keys_until_commit(&mut self, keys: &[&str]) -> diesel::QueryResult<()> {
        let mut ids: Vec<i32> = keys.iter().map(|key| lock_id(key)).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind::<diesel::sql_types::Integer, _>(KEY_LOCK_NAMESPACE)
                .bind::<diesel::sql_types::Integer, _>(id)
                .execute(self)?;
        }
        Ok(())
    }
}

/// FNV-1a of `key`, folded to 32 bits: a stable lock id for any text, the same in every process.
fn lock_id(key: &str) -> i32 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i32::from_ne_bytes(((hash >> 32) as u32 ^ hash as u32).to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_timeout_is_added_unless_the_url_has_one() {
        assert_eq!(
            with_connect_timeout("postgres://u@db/chat"),
            "postgres://u@db/chat?connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@db/chat?sslmode=require"),
            "postgres://u@db/chat?sslmode=require&connect_timeout=10"
        );
        let own = "postgres://u@db/chat?sslmode=require&connect_timeout=3";
        assert_eq!(with_connect_timeout(own), own);
    }

    #[test]
    fn libpq_messages_about_ssl_are_tls_errors_but_access_rules_are_not() {
        let url = DatabaseUrl::Postgres("postgres://app:s3cret@db/chat".into());
        let refused = "FATAL:  no pg_hba.conf entry for host \"10.0.0.1\", user \"app\", \
                       database \"chat\", SSL encryption";
        assert!(matches!(
            DatabaseError::postgres_connect(&url, &refused),
            DatabaseError::Connect(_)
        ));
        let unverified = "connection to server failed: SSL error: certificate verify failed\n";
        let error = DatabaseError::postgres_connect(&url, &unverified);
        assert!(matches!(error, DatabaseError::Tls(_)));
        assert!(
            error.to_string().ends_with("certificate verify failed"),
            "{error}"
        );
    }
}
