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

#[apply(on_every_backend)]
async fn chats_from_before_statuses_are_completed_and_keep_their_charge(backend: Backend) {
    let db = TestDatabase::create(backend);
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let database = Database::connect(&url, &PoolSettings::default()).unwrap();
    assert!(
        database.migrate_one_step().unwrap(),
        "the pre-ledger schema"
    );
    let sql = |statement: &str| test_support::sql::execute(&db.url, statement);
    sql(
        "INSERT INTO users (username, username_key, password_hash, tokens, is_active, is_superuser, date_joined) \
         VALUES ('veteran', 'veteran', 'x', 3650, TRUE, FALSE, '2024-06-01 10:00:00')",
    );
    sql("INSERT INTO chats (user_id, message, response, timestamp) \
         VALUES (1, 'before the ledger', 'old answer', '2024-06-01 10:05:00')");
    for _ in 0..4 {
        assert!(database.migrate_one_step().unwrap());
    }
    // A chat charged and settled by the protocol as it was before chats had a status.
    sql("INSERT INTO chats (user_id, message, response, timestamp) \
         VALUES (1, 'through the ledger', 'answer', '2024-07-01 10:00:00')");
    sql(
        "INSERT INTO chat_charges (id, user_id, amount, status, deadline, created_at, closed_at, chat_id) \
         VALUES ('charge-1', 1, 250, 'settled', '2024-07-01 10:01:00', '2024-07-01 10:00:00', '2024-07-01 10:00:00', 2)",
    );
    sql(
        "INSERT INTO ledger_entries (user_id, amount, kind, reason, reference, created_at) \
         VALUES (1, -250, 'chat_debit', 'chat message', 'charge-1', '2024-07-01 10:00:00')",
    );
    sql("UPDATE users SET tokens = tokens - 250");
    assert!(database.migrate().unwrap() >= 1);
    let rows = test_support::sql::strings(
        &db.url,
        "SELECT status || ' ' || CAST(tokens_charged AS TEXT) AS value FROM chats ORDER BY id",
    );
    assert_eq!(rows, vec!["completed 100", "completed 250"]);
    let storage = DieselStorage::new(database);
    assert_ledger_consistent(&storage).await;
    let audited = storage.chat_ledger_totals().await.unwrap();
    assert_eq!(
        audited.iter().map(|c| c.chat_id).collect::<Vec<_>>(),
        vec![2],
        "only the chat with a charge can be checked against the ledger"
    );
}
