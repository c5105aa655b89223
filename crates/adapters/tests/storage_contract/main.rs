//! The storage contract: what every repository port promises (see the doc comments in
//! `crates/ports`), checked against each backend from the same test code.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod chats;
mod security;
mod users;

use std::sync::Arc;

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{AccountRole, Tokens, User, Username};
use ports::{
    CreatedUser, LedgerRepository, NewUser, PasswordHash, ServerSettingsRepository, UserRepository,
};
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
        role: AccountRole::User,
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

    async fn balances_from_before_the_ledger_become_opening_entries(backend: Backend) {
        let db = TestDatabase::create(backend);
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let database = Database::connect(&url, &PoolSettings::default()).unwrap();
        assert!(database.migrate_one_step().unwrap(), "only the pre-ledger schema");
        let insert = "INSERT INTO users (username, username_key, password_hash, tokens, is_active, is_superuser, date_joined) VALUES \
            ('old_rich', 'old_rich', 'x', 3700, TRUE, FALSE, '2024-06-01 10:00:00'), \
            ('old_broke', 'old_broke', 'x', 0, TRUE, FALSE, '2024-06-01 10:00:00')";
        assert_eq!(test_support::sql::execute(&db.url, insert), 2);
        assert!(database.migrate().unwrap() >= 2);
        let storage = DieselStorage::new(database);
        assert_ledger_consistent(&storage).await;
        let kinds = test_support::sql::strings(&db.url, "SELECT kind AS value FROM ledger_entries");
        assert_eq!(kinds, vec!["opening_balance".to_owned()], "one entry, for the non-zero balance only");
        let totals = storage.ledger_totals().await.unwrap();
        assert_eq!(totals.iter().map(|t| t.entries_sum.get()).collect::<Vec<_>>(), vec![3700, 0]);
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
