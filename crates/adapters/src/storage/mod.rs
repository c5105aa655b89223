//! Diesel storage on SQLite or PostgreSQL, one binary, backend chosen from the database URL.
//!
//! - [`url`]: which backend a URL names.
//! - [`pool`]: pools, per-connection setup, migrations, write transactions.
//! - [`queries`]: every SQL statement, written once, compiled per backend.
//! - [`DieselStorage`]: the ports, each call run on tokio's blocking pool so diesel never blocks the
//!   request event loop.

mod accounts;
mod admin;
mod error;
mod models;
pub mod pool;
mod queries;
mod schema;
mod security;
pub mod url;

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use domain::{ChatMessage, Tokens, User, UserId, UsernameKey};
use ports::{
    ChargeId, ChatRepository, ChatReservation, CreatedUser, IdempotencyKeyState, LedgerRepository,
    LedgerTotals, NewUser, PasswordHash, Reservation, ServerSettingsRepository, Settlement,
    StorageError, UserCredentials, UserRepository,
};
use uuid::Uuid;

pub use self::{
    pool::{Database, DatabaseError, PoolSettings},
    url::{DatabaseUrl, DatabaseUrlError},
};

/// Runs one query function on whichever backend `$db` (a [`Database`]) is, on a pooled
/// connection, mapping diesel and pool errors to [`StorageError`]. Every path in it is absolute,
/// so a caller imports the macro and nothing else.
macro_rules! dispatch {
    ($db:expr, $function:ident($($arg:expr),* $(,)?)) => {
        match $db {
            $crate::storage::Database::Sqlite(pool) => {
                let mut conn = pool.get().map_err($crate::storage::error::pool_unavailable)?;
                $crate::storage::queries::sqlite::$function(&mut conn, $($arg),*)
                    .map_err($crate::storage::error::classify)
            }
            $crate::storage::Database::Postgres(pool) => {
                let mut conn = pool.get().map_err($crate::storage::error::pool_unavailable)?;
                $crate::storage::queries::postgres::$function(&mut conn, $($arg),*)
                    .map_err($crate::storage::error::classify)
            }
        }
    };
}

pub(crate) use dispatch;

/// How many expired charges one sweep refunds at most; the next sweep takes the rest.
const SWEEP_BATCH: i64 = 500;

/// The storage adapter: implements every repository port on a [`Database`].
#[derive(Clone, Debug)]
pub struct DieselStorage {
    db: Database,
}

impl DieselStorage {
    /// Wraps an open (and migrated) database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The underlying pool, for migrations and health checks.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Runs blocking diesel work off the async runtime, inside the caller's tracing span.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(&db)))
            .await
            .map_err(|e| StorageError::Internal(format!("storage task failed: {e}")))?
    }
}

#[async_trait]
impl UserRepository for DieselStorage {
    async fn create(&self, new_user: NewUser) -> Result<CreatedUser, StorageError> {
        self.blocking(move |db| dispatch!(db, create_user(&new_user)))
            .await
    }

    async fn find_credentials(
        &self,
        key: &UsernameKey,
    ) -> Result<Option<UserCredentials>, StorageError> {
        let key = key.clone();
        self.blocking(move |db| dispatch!(db, find_credentials(&key)))
            .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.blocking(move |db| dispatch!(db, find_user(id))).await
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        current: PasswordHash,
        new: PasswordHash,
    ) -> Result<bool, StorageError> {
        self.blocking(move |db| dispatch!(db, upgrade_password_hash(id, &current.0, &new.0)))
            .await
    }
}

#[async_trait]
impl LedgerRepository for DieselStorage {
    async fn ledger_totals(&self) -> Result<Vec<LedgerTotals>, StorageError> {
        let rows = self.blocking(|db| dispatch!(db, ledger_totals())).await?;
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
}

#[async_trait]
impl ServerSettingsRepository for DieselStorage {
    async fn get_or_insert_setting(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<String, StorageError> {
        let (name, candidate) = (name.to_owned(), candidate.to_owned());
        self.blocking(move |db| dispatch!(db, get_or_insert_setting(&name, &candidate)))
            .await
    }
}

#[async_trait]
impl ChatRepository for DieselStorage {
    async fn chat_count(&self, user_id: UserId) -> Result<i64, StorageError> {
        self.blocking(move |db| dispatch!(db, chat_count(user_id)))
            .await
    }

    async fn reserve(&self, reservation: ChatReservation) -> Result<Reservation, StorageError> {
        self.blocking(move |db| dispatch!(db, reserve(&reservation)))
            .await
    }

    async fn settle(
        &self,
        charge: ChargeId,
        message: &ChatMessage,
        response: &str,
        at: DateTime<Utc>,
    ) -> Result<Settlement, StorageError> {
        let (message, response) = (message.as_str().to_owned(), response.to_owned());
        let at = truncate_to_micros(at);
        self.blocking(move |db| dispatch!(db, settle(charge, &message, &response, at)))
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
        self.blocking(move |db| dispatch!(db, refund(charge, &reason, at)))
            .await
    }

    async fn refund_expired(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let now = truncate_to_micros(now);
        self.blocking(move |db| {
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
            .blocking(move |db| dispatch!(db, idempotency_in_progress(user_id, &key)))
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
