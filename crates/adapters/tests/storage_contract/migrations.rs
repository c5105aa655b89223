//! Migrations: up, down and up again; balances from before the ledger; running them twice.

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use contract_tests::storage::{assert_ledger_consistent, create_user};
use ports::{LedgerRepository, UserRepository};
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

/// The SQLite file holds password hashes and the development JWT secret: only its owner may read
/// it, and the write-ahead log and shared-memory files beside it inherit that.
#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_database_and_its_wal_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("private.db");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", file.display())).unwrap();
    let database = Database::connect(&url, &PoolSettings::default()).unwrap();
    database.migrate().unwrap();
    let storage = DieselStorage::new(database);
    create_user(&storage, "writer", 10).await;
    for name in ["private.db", "private.db-wal", "private.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
}

/// How many migrations come before `version` (a migration directory name's date part).
fn migrations_before(version: &str) -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .as_ref()
                < version
        })
        .count()
}

/// Accounts from before credentials versions and skeletons: look-alike names get distinct
/// skeletons (the oldest the plain one) and stay usable; new look-alikes of them are refused; and
/// tokens that had to stay dead (deactivated account, admin password reset) stay dead.
#[apply(on_every_backend)]
async fn the_upgrade_keeps_look_alike_accounts_usable_and_dead_tokens_dead(backend: Backend) {
    let db = TestDatabase::create(backend);
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let database = Database::connect(&url, &PoolSettings::default()).unwrap();
    for _ in 0..migrations_before("2025-02-01-000001") {
        assert!(database.migrate_one_step().unwrap());
    }
    let insert = "INSERT INTO users (username, username_key, password_hash, tokens, is_active, \
        is_superuser, date_joined, refresh_tokens_revoked_before) VALUES \
        ('admin', 'admin', 'x', 0, TRUE, TRUE, '2024-06-01 10:00:00', NULL), \
        ('\u{430}dmin', '\u{430}dmin', 'x', 0, TRUE, FALSE, '2024-06-01 10:00:00', NULL), \
        ('sleeper', 'sleeper', 'x', 0, FALSE, FALSE, '2024-06-01 10:00:00', NULL), \
        ('reset', 'reset', 'x', 0, TRUE, FALSE, '2024-06-01 10:00:00', '2024-07-01 10:00:00')";
    assert_eq!(test_support::sql::execute(&db.url, insert), 4);
    assert!(database.migrate().unwrap() >= 1);
    let skeletons = test_support::sql::strings(
        &db.url,
        "SELECT username_skeleton AS value FROM users ORDER BY id",
    );
    let second_id = test_support::sql::integer(
        &db.url,
        "SELECT CAST(id AS TEXT) AS value FROM users WHERE username = '\u{430}dmin'",
    );
    let skeleton = |name: &str| domain::UsernameKey::of(name).skeleton();
    assert_eq!(
        skeletons,
        vec![
            skeleton("admin"),
            format!("{}#{second_id}", skeleton("admin")),
            skeleton("sleeper"),
            skeleton("reset"),
        ]
    );
    let versions = test_support::sql::strings(
        &db.url,
        "SELECT CAST(credentials_version AS TEXT) AS value FROM users ORDER BY id",
    );
    assert_eq!(versions, ["0", "0", "1", "1"]);
    let storage = DieselStorage::new(database);
    for name in ["admin", "\u{430}dmin"] {
        let found = storage
            .find_credentials(&domain::UsernameKey::of(name))
            .await
            .unwrap();
        assert_eq!(
            found.map(|c| c.user.username.as_str().to_owned()),
            Some(name.to_owned())
        );
    }
    for look_alike in ["ADMIN", "\u{410}dmin", "sl\u{435}eper"] {
        assert_eq!(
            storage
                .create(contract_tests::storage::new_user(look_alike, 0))
                .await
                .unwrap(),
            ports::CreatedUser::UsernameTaken,
            "{look_alike}"
        );
    }
    assert_eq!(
        storage.database().migrate().unwrap(),
        0,
        "a second start finds nothing to fill"
    );
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
    for _ in 1..migrations_before("2025-02-02-000001") {
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
