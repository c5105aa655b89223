//! Throwaway databases for tests, on either backend, and the skip policy:
//! PostgreSQL tests run when `CHAT_API_TEST_PG_URL` is set and otherwise skip with a visible
//! message, unless `CHAT_API_TEST_REQUIRE_ALL=1`, under which a skip fails the test.
//! `on_every_backend` runs one test function on every [`Backend`] (see its definition).
//! [`stub_upstream`] is a scripted OpenAI-compatible server for responder tests.
#![allow(clippy::expect_used)]

pub mod problem_snapshot;
pub mod stub_upstream;

use diesel::{Connection, PgConnection, RunQueryDsl};
/// Re-exported for [`assert_problem_snapshot!`], so suites need no direct insta dependency.
pub use insta;
use tempfile::TempDir;

/// URL of a PostgreSQL server (any database on it) on which tests may create databases.
pub const PG_URL_VAR: &str = "CHAT_API_TEST_PG_URL";
/// When `1`, a test that would skip fails instead.
pub const REQUIRE_ALL_VAR: &str = "CHAT_API_TEST_REQUIRE_ALL";

/// The storage backends every storage-touching test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server named by `CHAT_API_TEST_PG_URL`.
    Postgres,
}

/// Prints why a test is skipped, or panics if skipping is not allowed.
pub fn skip(test: &str, reason: &str) {
    if std::env::var(REQUIRE_ALL_VAR).is_ok_and(|v| v == "1") {
        panic!("{test}: would skip ({reason}), but {REQUIRE_ALL_VAR}=1");
    }
    println!("SKIPPED {test}: {reason}");
    eprintln!("SKIPPED {test}: {reason}");
}

/// The PostgreSQL server URL, if tests may use one.
pub fn pg_server_url() -> Option<String> {
    std::env::var(PG_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Whether `backend` can run here; prints the skip (or fails under REQUIRE_ALL) if not.
pub fn available(backend: Backend, test: &str) -> bool {
    match backend {
        Backend::Sqlite => true,
        Backend::Postgres if pg_server_url().is_some() => true,
        Backend::Postgres => {
            skip(test, &format!("{PG_URL_VAR} is not set"));
            false
        }
    }
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    /// The URL to configure the service with.
    pub url: String,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates an empty database on `backend` (call [`available`] first).
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("chat-api.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let server = pg_server_url().expect("CHAT_API_TEST_PG_URL is set");
                let name = format!("chat_test_{}", uuid::Uuid::new_v4().simple());
                // As the service does before its first connection: no OpenSSL clean-up at exit
                // racing a TLS handshake still under way in another thread.
                openssl_sys::init();
                let mut admin = PgConnection::establish(&server)
                    .expect("connect to the test PostgreSQL server");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let url = with_database(&server, &name);
                Self {
                    url,
                    _dir: None,
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(server) {
                let _best_effort =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin);
            }
        }
    }
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

// `on_every_backend`: the rstest template every storage-touching test applies, one case per
// `Backend`, named `<test>::case_1_sqlite` and `<test>::case_2_postgres`; the PostgreSQL case
// skips visibly (see `available`) before the test body runs. A test module needs
// `use rstest::rstest; use rstest_reuse::apply; use test_support::{Backend, on_every_backend};`
// and then:
//
//     #[apply(on_every_backend)]
//     async fn a_test(backend: Backend) { /* ... */ }
//
// (rstest_reuse turns the template into a macro and drops doc comments, hence `//` here.) The
// skip message names the test; "case_2_postgres" is rstest's name for the second case.
#[rstest_reuse::template]
#[export]
#[rstest]
#[case::sqlite(::test_support::Backend::Sqlite)]
#[case::postgres(::test_support::postgres_or_skip!("case_2_postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_every_backend(#[case] backend: Backend) {}

/// `Backend::Postgres`, or a visible skip (a `return` from the calling test) when it cannot run.
/// `case` is the test case's own name, for the skip message.
#[macro_export]
macro_rules! postgres_or_skip {
    ($case:literal) => {{
        if !$crate::available(
            $crate::Backend::Postgres,
            concat!(module_path!(), "::", $case),
        ) {
            return;
        }
        $crate::Backend::Postgres
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}

/// Raw SQL against a test database, for assertions the service's own API does not offer (and for
/// tampering with data on purpose).
pub mod sql {
    use diesel::{
        Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection,
        connection::SimpleConnection, sql_types::Text,
    };

    /// A SQLite connection that waits for the service's writers (and a pool that is still
    /// closing after a stop) instead of failing at once with "database is locked".
    fn sqlite(path: &str) -> SqliteConnection {
        let mut conn = SqliteConnection::establish(path).expect("open sqlite");
        conn.batch_execute("PRAGMA busy_timeout = 10000;")
            .expect("set busy timeout");
        conn
    }

    #[derive(QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = Text)]
        value: String,
    }

    /// Runs a statement (UPDATE, DELETE, ...) and returns the affected row count.
    pub fn execute(url: &str, statement: &str) -> usize {
        match url.strip_prefix("sqlite://") {
            Some(path) => diesel::sql_query(statement)
                .execute(&mut sqlite(path))
                .expect("execute"),
            None => diesel::sql_query(statement)
                .execute(&mut PgConnection::establish(url).expect("connect postgres"))
                .expect("execute"),
        }
    }

    /// The first column of every row, as text; the query must alias it `value` and cast it to text.
    pub fn strings(url: &str, query: &str) -> Vec<String> {
        let rows: Vec<TextRow> = match url.strip_prefix("sqlite://") {
            Some(path) => diesel::sql_query(query)
                .load(&mut sqlite(path))
                .expect("query"),
            None => diesel::sql_query(query)
                .load(&mut PgConnection::establish(url).expect("connect postgres"))
                .expect("query"),
        };
        rows.into_iter().map(|row| row.value).collect()
    }

    /// A single integer, from a query whose one row has a text-cast column `value`.
    pub fn integer(url: &str, query: &str) -> i64 {
        strings(url, query)
            .first()
            .and_then(|v| v.parse().ok())
            .expect("one integer row")
    }
}
