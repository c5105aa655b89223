//! A SQLite database as the service uses it: every write through one [`Writer`] thread (group
//! commit), reads on a few [`Readers`] threads, and a small pool for maintenance (migrations,
//! readiness checks), which never runs on the request path.
//!
//! Every connection runs in WAL mode with `synchronous = NORMAL`: a commit is durable against a
//! crash of the process (the WAL is written before the writer answers), and only an operating
//! system crash or power loss can lose the last commits before the next checkpoint; the database
//! stays consistent either way.

pub mod readers;
pub mod writer;

use std::time::Duration;

use diesel::{
    Connection, SqliteConnection,
    connection::SimpleConnection,
    r2d2::{ConnectionManager, CustomizeConnection, Pool},
};

pub use self::{readers::Readers, writer::Writer};
use super::pool::{DatabaseError, PoolSettings};

/// A SQLite database's connections.
#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    /// Connections for work outside the request path (migrations, readiness, upgrade tests).
    pub maintenance: Pool<ConnectionManager<SqliteConnection>>,
    /// The one connection that writes on the request path.
    pub writer: Writer,
    /// Read-only connections for the request path.
    pub readers: Readers,
}

/// Maintenance connections kept at most: migrations and readiness checks use one at a time.
const MAINTENANCE_CONNECTIONS: u32 = 2;

impl SqliteDatabase {
    /// Opens the writer, the readers and the maintenance pool on the SQLite file at `path` (which
    /// must exist), switching it to WAL first.
    pub fn open(path: &str, settings: &PoolSettings) -> Result<Self, DatabaseError> {
        let busy_timeout = settings.busy_timeout;
        let mut first =
            SqliteConnection::establish(path).map_err(|e| DatabaseError::Connect(e.to_string()))?;
        first
            .batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
                busy_timeout.as_millis()
            ))
            .map_err(|e| DatabaseError::Connect(e.to_string()))?;
        let owned = path.to_owned();
        let writer = Writer::start(
            Box::new(move || open_connection(&owned, busy_timeout, Access::ReadWrite)),
            settings.queue_capacity,
        )
        .map_err(DatabaseError::Connect)?;
        let readers = Readers::start(
            &|| open_connection(path, busy_timeout, Access::ReadOnly),
            reader_threads(settings.max_connections),
            settings.queue_capacity,
        )
        .map_err(DatabaseError::Connect)?;
        let maintenance = Pool::builder()
            .max_size(MAINTENANCE_CONNECTIONS)
            .min_idle(Some(0))
            .connection_timeout(settings.acquire_timeout)
            .connection_customizer(Box::new(Setup { busy_timeout }))
            .build(ConnectionManager::new(path))
            .map_err(|e| DatabaseError::Connect(e.to_string()))?;
        Ok(Self {
            maintenance,
            writer,
            readers,
        })
    }
}

/// Reader threads: one per core, at most `max_connections`. More would only take turns on the
/// same cores.
fn reader_threads(max_connections: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.min(usize::try_from(max_connections).unwrap_or(usize::MAX))
}

/// Whether a connection may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// The settings every connection needs: wait for locks (other processes may write too), enforce
/// foreign keys, commit with `synchronous = NORMAL` (see the module documentation).
fn setup_sql(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    )
}

fn open_connection(
    path: &str,
    busy_timeout: Duration,
    access: Access,
) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
    let mut sql = setup_sql(busy_timeout);
    if access == Access::ReadOnly {
        sql.push_str(" PRAGMA query_only = ON;");
    }
    conn.batch_execute(&sql).map_err(|e| e.to_string())?;
    Ok(conn)
}

#[derive(Debug)]
struct Setup {
    busy_timeout: Duration,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Setup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&setup_sql(self.busy_timeout))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}
