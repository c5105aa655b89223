//! Diesel storage on SQLite or PostgreSQL, one binary, backend chosen from the database URL.
//!
//! - [`url`]: which backend a URL names.
//! - [`pool`]: the backends' connections, migrations, write transactions.
//! - [`sqlite`]: SQLite's writer thread (group commit) and reader threads.
//! - [`queries`]: every SQL statement, written once, compiled per backend.
//! - [`DieselStorage`]: the ports. Each call is a read or a write: on SQLite a read goes to a
//!   reader thread and a write to the writer's queue; on PostgreSQL either runs on tokio's
//!   blocking pool with a pooled connection. Either way diesel never blocks the request event
//!   loop.

mod accounts;
mod admin;
mod cached;
mod error;
mod models;
pub mod pool;
mod queries;
mod schema;
mod security;
pub mod sqlite;
pub mod url;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use diesel::{
    PgConnection, SqliteConnection,
    r2d2::{ConnectionManager, Pool},
};
use domain::{Tokens, User, UserId, UsernameKey};
use ports::{
    ChargeId, ChatLedgerTotals, ChatRecord, ChatRepository, ChatReservation, CreatedUser,
    FinishedChat, IdempotencyKeyState, LedgerRepository, LedgerTotals, NewUser, PasswordHash,
    Reservation, ServerSettingsRepository, Settlement, StorageError, UserCredentials,
    UserRepository,
};
use uuid::Uuid;

pub use self::{
    pool::{ConnectionState, DEFAULT_QUEUE_CAPACITY, Database, DatabaseError, PoolSettings},
    url::{DatabaseUrl, DatabaseUrlError},
};

/// Runs one query function on whichever backend `$conn` (a `&mut` [`Conn`]) is, mapping diesel
/// errors to [`StorageError`]. Every path in it is absolute, so a caller imports the macro and
/// nothing else. Used inside [`DieselStorage::read`] and [`DieselStorage::write`]:
/// `self.read(move |db| dispatch!(db, find_user(id)))`.
macro_rules! dispatch {
    ($conn:expr, $function:ident($($arg:expr),* $(,)?)) => {
        match $conn {
            $crate::storage::Conn::Sqlite(conn) => {
                $crate::storage::queries::sqlite::$function(conn, $($arg),*)
                    .map_err($crate::storage::error::classify)
            }
            $crate::storage::Conn::Postgres(conn) => {
                $crate::storage::queries::postgres::$function(conn, $($arg),*)
                    .map_err($crate::storage::error::classify)
            }
        }
    };
}

pub(crate) use dispatch;

type PgPool = Pool<ConnectionManager<PgConnection>>;

/// The connection one storage call runs on, of either backend.
pub enum Conn<'a> {
    /// A SQLite reader's connection, or the writer's inside the operation's savepoint.
    Sqlite(&'a mut SqliteConnection),
    /// A pooled PostgreSQL connection.
    Postgres(&'a mut PgConnection),
}

/// How many expired charges one sweep refunds at most; the next sweep takes the rest.
const SWEEP_BATCH: i64 = 500;

/// The storage adapter: implements every repository port on a [`Database`].
#[derive(Clone, Debug)]
pub struct DieselStorage {
    db: Database,
    /// Repository calls under way (submitted to the blocking pool and not yet finished), shared
    /// by every clone.
    calls: Arc<AtomicUsize>,
}

/// How busy the connection pool is, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections the pool may open.
    pub max: u32,
    /// Connections checked out by a running query.
    pub in_use: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// Repository calls under way that hold no connection yet: queued for a blocking thread or
    /// waiting for a connection to come free.
    pub waiting: u32,
}

/// Counts one repository call from submission until its blocking work ends (or is dropped
/// unstarted).
struct CallUnderWay(Arc<AtomicUsize>);

impl CallUnderWay {
    fn start(calls: &Arc<AtomicUsize>) -> Self {
        calls.fetch_add(1, Ordering::Relaxed);
        Self(calls.clone())
    }
}

impl Drop for CallUnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl DieselStorage {
    /// Wraps an open (and migrated) database.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            calls: Arc::default(),
        }
    }

    /// The connections' occupancy now (on SQLite: the writer and the readers). Read without
    /// locking anything; the numbers are a sample, not a snapshot (calls may start or end between
    /// reading them).
    pub fn pool_usage(&self) -> PoolUsage {
        let state = self.db.pool_state();
        let waiting = state.waiting.unwrap_or_else(|| {
            let calls = u32::try_from(self.calls.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
            calls.saturating_sub(state.in_use)
        });
        PoolUsage {
            max: state.max,
            in_use: state.in_use,
            idle: state.max.saturating_sub(state.in_use),
            waiting,
        }
    }

    /// Waits until every write queued before this call has committed or failed. On SQLite the
    /// writer runs its queue in order, so an empty operation queued now is answered after all of
    /// them; PostgreSQL writes commit before their call returns, so there is nothing to wait for.
    pub async fn flush(&self) -> Result<(), StorageError> {
        match &self.db {
            Database::Sqlite(sqlite) => sqlite.writer.run(Box::new(|_| Ok(()))).await,
            Database::Postgres(_) => Ok(()),
        }
    }

    /// The underlying pool, for migrations and health checks.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Runs work that only reads, off the async runtime: on SQLite on a reader thread (a
    /// read-only connection: a write fails there), on PostgreSQL as [`Self::write`] does.
    async fn read<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> Result<T, StorageError> + Send + 'static,
    {
        match &self.db {
            Database::Sqlite(sqlite) => {
                let span = tracing::Span::current();
                sqlite
                    .readers
                    .run(move |conn| span.in_scope(|| work(&mut Conn::Sqlite(conn))))
                    .await
            }
            Database::Postgres(pool) => self.on_postgres(pool, work).await,
        }
    }

    /// Runs work that may write, off the async runtime: on SQLite as one operation of the
    /// writer's next batch (in its own savepoint, answered after the batch commits), on
    /// PostgreSQL on tokio's blocking pool with a pooled connection.
    async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> Result<T, StorageError> + Send + 'static,
    {
        match &self.db {
            Database::Sqlite(sqlite) => {
                let span = tracing::Span::current();
                sqlite
                    .writer
                    .run(Box::new(move |conn| {
                        span.in_scope(|| work(&mut Conn::Sqlite(conn)))
                    }))
                    .await
            }
            Database::Postgres(pool) => self.on_postgres(pool, work).await,
        }
    }

    /// Runs `work` on a pooled PostgreSQL connection on tokio's blocking pool, inside the
    /// caller's tracing span.
    async fn on_postgres<T, F>(&self, pool: &PgPool, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> Result<T, StorageError> + Send + 'static,
    {
        let pool = pool.clone();
        let span = tracing::Span::current();
        let call = CallUnderWay::start(&self.calls);
        tokio::task::spawn_blocking(move || {
            let _call = call;
            span.in_scope(|| {
                let mut conn = pool.get().map_err(error::pool_unavailable)?;
                work(&mut Conn::Postgres(&mut conn))
            })
        })
        .await
        .map_err(|e| StorageError::Internal(format!("storage task failed: {e}")))?
    }
}

#[async_trait]
impl UserRepository for DieselStorage {
    async fn create(&self, new_user: NewUser) -> Result<CreatedUser, StorageError> {
        self.write(move |db| dispatch!(db, create_user(&new_user)))
            .await
    }

    async fn find_credentials(
        &self,
        key: &UsernameKey,
    ) -> Result<Option<UserCredentials>, StorageError> {
        let key = key.clone();
        self.read(move |db| dispatch!(db, find_credentials(&key)))
            .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.read(move |db| dispatch!(db, find_user(id))).await
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        current: PasswordHash,
        new: PasswordHash,
    ) -> Result<bool, StorageError> {
        self.write(move |db| dispatch!(db, upgrade_password_hash(id, &current.0, &new.0)))
            .await
    }
}

#[async_trait]
impl LedgerRepository for DieselStorage {
    async fn ledger_totals(&self) -> Result<Vec<LedgerTotals>, StorageError> {
        let rows = self.read(|db| dispatch!(db, ledger_totals())).await?;
        Ok(rows
            .into_iter()
            .map(|row| LedgerTotals {
                user_id: UserId(row.user_id),
                username: row.username,
                balance: Tokens::new(row.balance),
                entries_sum: Tokens::new(row.entries_sum),
            })
            .collect())
    }

    async fn chat_ledger_totals(&self) -> Result<Vec<ChatLedgerTotals>, StorageError> {
        let rows = self.read(|db| dispatch!(db, chat_ledger_totals())).await?;
        Ok(rows
            .into_iter()
            .map(|row| ChatLedgerTotals {
                chat_id: row.chat_id,
                user_id: UserId(row.user_id),
                username: row.username,
                tokens_charged: Tokens::new(row.tokens_charged),
                ledger_net: Tokens::new(row.ledger_net),
            })
            .collect())
    }

    async fn pending_charges(&self) -> Result<i64, StorageError> {
        self.read(|db| dispatch!(db, pending_charges())).await
    }
}

#[async_trait]
impl ServerSettingsRepository for DieselStorage {
    async fn get_or_insert_setting(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<String, StorageError> {
        let (name, candidate) = (name.to_owned(), candidate.to_owned());
        self.write(move |db| dispatch!(db, get_or_insert_setting(&name, &candidate)))
            .await
    }
}

#[async_trait]
impl ChatRepository for DieselStorage {
    async fn completed_chat_count(&self, user_id: UserId) -> Result<i64, StorageError> {
        self.read(move |db| dispatch!(db, completed_chat_count(user_id)))
            .await
    }

    async fn recent_exchanges(
        &self,
        user_id: UserId,
        limit: u32,
    ) -> Result<Vec<ChatRecord>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .read(move |db| dispatch!(db, recent_exchanges(user_id, i64::from(limit))))
            .await?;
        Ok(rows.into_iter().map(ChatRecord::from).collect())
    }

    async fn reserve(&self, reservation: ChatReservation) -> Result<Reservation, StorageError> {
        self.write(move |db| dispatch!(db, reserve(&reservation)))
            .await
    }

    async fn settle(
        &self,
        charge: ChargeId,
        chat: FinishedChat,
    ) -> Result<Settlement, StorageError> {
        let at = truncate_to_micros(chat.at);
        self.write(move |db| dispatch!(db, settle(charge, &chat, at)))
            .await
    }

    async fn refund(
        &self,
        charge: ChargeId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let reason = reason.to_owned();
        let at = truncate_to_micros(at);
        self.write(move |db| dispatch!(db, refund(charge, &reason, at)))
            .await
    }

    async fn refund_expired(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let now = truncate_to_micros(now);
        self.write(move |db| {
            let mut refunded = 0;
            for id in dispatch!(db, expired_charges(now, SWEEP_BATCH))? {
                let charge = Uuid::parse_str(&id)
                    .map(ChargeId)
                    .map_err(|e| StorageError::Internal(e.to_string()))?;
                if dispatch!(
                    db,
                    refund(charge, "no response before the charge deadline", now)
                )? {
                    refunded += 1;
                }
            }
            Ok(refunded)
        })
        .await
    }

    async fn idempotency_key_state(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<IdempotencyKeyState, StorageError> {
        let key = key.to_owned();
        let in_progress = self
            .read(move |db| dispatch!(db, idempotency_in_progress(user_id, &key)))
            .await?;
        Ok(match in_progress {
            None => IdempotencyKeyState::Absent,
            Some(true) => IdempotencyKeyState::InProgress,
            Some(false) => IdempotencyKeyState::Completed,
        })
    }
}

/// Both backends keep microseconds; truncating before writing makes what a request returns equal
/// to what a replay later reads back.
fn truncate_to_micros(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    let naive = at.naive_utc();
    naive
        .with_nanosecond(naive.and_utc().timestamp_subsec_micros() * 1_000)
        .unwrap_or(naive)
}
