//! Migrations: up, down and up again; balances from before the ledger; running them twice.

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use contract_tests::storage::{assert_ledger_consistent, create_user};
use ports::LedgerRepository;
use rstest::rstest;
use rstest_reuse::apply;
use test_support::{Backend, TestDatabase, on_every_backend};

use crate::store;

#[apply(on_every_backend)]
async fn migrations_run_up_down_and_up_again(backend: Backend) {
    let store = store(backend);
    let db = store.storage.database();
    assert!(db.migrations_current().unwrap());
    assert!(db.revert_all().unwrap() >= 3);
    assert!(!db.migrations_current().unwrap());
    assert!(db.migrate().unwrap() >= 3);
    assert!(db.migrations_current().unwrap());
    create_user(&*store.storage, "after_remigration", 10).await;
}

#[apply(on_every_backend)]
async fn balances_from_before_the_ledger_become_opening_entries(backend: Backend) {
    let db = TestDatabase::create(backend);
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let database = Database::connect(&url, &PoolSettings::default()).unwrap();
    assert!(
        database.migrate_one_step().unwrap(),
        "only the pre-ledger schema"
    );
    let insert = "INSERT INTO users (username, username_key, password_hash, tokens, is_active, is_superuser, date_joined) VALUES \
        ('old_rich', 'old_rich', 'x', 3700, TRUE, FALSE, '2024-06-01 10:00:00'), \
        ('old_broke', 'old_broke', 'x', 0, TRUE, FALSE, '2024-06-01 10:00:00')";
    assert_eq!(test_support::sql::execute(&db.url, insert), 2);
    assert!(database.migrate().unwrap() >= 2);
    let storage = DieselStorage::new(database);
    assert_ledger_consistent(&storage).await;
    let kinds = test_support::sql::strings(&db.url, "SELECT kind AS value FROM ledger_entries");
    assert_eq!(
        kinds,
        vec!["opening_balance".to_owned()],
        "one entry, for the non-zero balance only"
    );
    let totals = storage.ledger_totals().await.unwrap();
    assert_eq!(
        totals
            .iter()
            .map(|t| t.entries_sum.get())
            .collect::<Vec<_>>(),
        vec![3700, 0]
    );
}

#[apply(on_every_backend)]
async fn migrating_twice_is_a_no_op(backend: Backend) {
    let store = store(backend);
    assert_eq!(store.storage.database().migrate().unwrap(), 0);
}
