//! How the storage adapter reports what went wrong, against real databases: a bug in a query is
//! `Internal`, a lock held past its timeout is `Unavailable` (so the documented message prefixes
//! are the ones the drivers really produce), and a reservation for a missing user is
//! `UserNotFound`, never "insufficient tokens".
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use contract_tests::storage::{create_user, noon};
use diesel::{Connection, PgConnection, SqliteConnection, connection::SimpleConnection};
use domain::{Tokens, UserId};
use ports::{ChatRepository, ChatReservation, IdempotencyKey, Reservation, StorageError};
use rstest::rstest;
use rstest_reuse::apply;
use test_support::{Backend, TestDatabase, on_every_backend, sql};

/// A migrated database on `backend` and the adapter on it, with `settings`.
fn storage(backend: Backend, settings: PoolSettings) -> (DieselStorage, TestDatabase) {
    let db = TestDatabase::create(backend);
    let database = Database::connect(&DatabaseUrl::parse(&db.url).unwrap(), &settings).unwrap();
    database.migrate().unwrap();
    (DieselStorage::new(database), db)
}

fn reservation(user_id: UserId, key: Option<&str>) -> ChatReservation {
    let now = noon();
    ChatReservation {
        user_id,
        amount: Tokens::new(100),
        now,
        deadline: now + chrono::Duration::seconds(60),
        idempotency: key.map(|key| IdempotencyKey {
            key: key.to_owned(),
            request_fingerprint: "fp".into(),
            not_before: now - chrono::Duration::hours(24),
        }),
    }
}

#[apply(on_every_backend)]
async fn a_query_on_a_missing_table_is_internal(backend: Backend) {
    let (storage, db) = storage(backend, PoolSettings::default());
    let user = create_user(&storage, "erin", 100).await.id;
    sql::execute(&db.url, "ALTER TABLE chats RENAME TO chats_gone");
    match storage.completed_chat_count(user).await {
        Err(StorageError::Internal(reason)) => assert!(reason.contains("chats"), "{reason}"),
        other => panic!("a missing table is a bug, not an outage: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_write_lock_held_past_the_busy_timeout_is_unavailable() {
    let settings = PoolSettings {
        busy_timeout: Duration::from_millis(50),
        ..PoolSettings::default()
    };
    let (storage, db) = storage(Backend::Sqlite, settings);
    let user = create_user(&storage, "erin", 1000).await.id;
    let path = db.url.strip_prefix("sqlite://").unwrap();
    let mut holder = SqliteConnection::establish(path).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let result = storage.reserve(reservation(user, None)).await;
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        result,
        Err(StorageError::Unavailable("database is locked".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_statement_timeout_is_unavailable() {
    let name = "storage_errors::a_postgres_statement_timeout_is_unavailable";
    if !test_support::available(Backend::Postgres, name) {
        return;
    }
    let settings = PoolSettings {
        statement_timeout: Duration::from_millis(100),
        ..PoolSettings::default()
    };
    let (storage, db) = storage(Backend::Postgres, settings);
    let user = create_user(&storage, "erin", 1000).await.id;
    let mut holder = PgConnection::establish(&db.url).unwrap();
    holder
        .batch_execute(&format!(
            "BEGIN; UPDATE users SET tokens = tokens WHERE id = {}",
            user.0
        ))
        .unwrap();
    let result = storage.reserve(reservation(user, None)).await;
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        result,
        Err(StorageError::Unavailable(
            "canceling statement due to statement timeout".into()
        ))
    );
}

#[apply(on_every_backend)]
async fn reserving_for_a_missing_user_is_user_not_found_and_writes_nothing(backend: Backend) {
    let (storage, db) = storage(backend, PoolSettings::default());
    let missing = UserId(424_242);
    for key in [None, Some("k1")] {
        assert_eq!(
            storage.reserve(reservation(missing, key)).await.unwrap(),
            Reservation::UserNotFound,
            "key {key:?}"
        );
    }
    for table in ["chat_charges", "ledger_entries", "idempotency_keys"] {
        let rows = sql::integer(
            &db.url,
            &format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM {table}"),
        );
        assert_eq!(rows, 0, "{table}");
    }
}
