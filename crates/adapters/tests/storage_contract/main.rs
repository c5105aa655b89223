//! The storage contract: what every repository port promises (see the doc comments in
//! `crates/ports`), checked against each backend from the same test code.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod chats;
mod users;

use std::sync::Arc;

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Tokens, User, Username};
use ports::{CreatedUser, NewUser, PasswordHash, UserRepository};
use test_support::{Backend, TestDatabase};

/// A migrated, empty database and the storage adapter on it.
pub struct Store {
    pub storage: Arc<DieselStorage>,
    _db: TestDatabase,
}

pub fn store(backend: Backend) -> Store {
    let db = TestDatabase::create(backend);
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let database = Database::connect(&url, &PoolSettings::default()).unwrap();
    database.migrate().unwrap();
    Store {
        storage: Arc::new(DieselStorage::new(database)),
        _db: db,
    }
}

pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
}

pub fn later(seconds: i64) -> DateTime<Utc> {
    noon() + Duration::seconds(seconds)
}

pub fn new_user(name: &str, grant: i64) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        password_hash: PasswordHash("$2b$04$hash".into()),
        is_superuser: false,
        joined_at: noon(),
        signup_grant: Tokens::new(grant),
    }
}

pub async fn create_user(storage: &DieselStorage, name: &str, grant: i64) -> User {
    match storage.create(new_user(name, grant)).await.unwrap() {
        CreatedUser::Created(user) => user,
        CreatedUser::UsernameTaken => panic!("{name} taken"),
    }
}

/// Invariants 1 and 3 for every user.
pub async fn assert_ledger_consistent(storage: &DieselStorage) {
    for totals in storage.ledger_totals().await.unwrap() {
        assert!(totals.balance.get() >= 0, "negative balance: {totals:?}");
        assert_eq!(
            totals.balance, totals.entries_sum,
            "balance differs from ledger: {totals:?}"
        );
    }
}

test_support::backend_tests! {
    async fn migrations_run_up_down_and_up_again(backend: Backend) {
        let store = store(backend);
        let db = store.storage.database();
        assert!(db.migrations_current().unwrap());
        assert!(db.revert_all().unwrap() >= 3);
        assert!(!db.migrations_current().unwrap());
        assert!(db.migrate().unwrap() >= 3);
        assert!(db.migrations_current().unwrap());
        create_user(&store.storage, "after_remigration", 10).await;
    }

    async fn migrating_twice_is_a_no_op(backend: Backend) {
        let store = store(backend);
        assert_eq!(store.storage.database().migrate().unwrap(), 0);
    }

    async fn a_setting_keeps_its_first_value(backend: Backend) {
        let store = store(backend);
        assert_eq!(store.storage.get_or_insert_setting("s", "first").await.unwrap(), "first");
        assert_eq!(store.storage.get_or_insert_setting("s", "second").await.unwrap(), "first");
    }
}
