//! TLS to PostgreSQL: libpq (built with a vendored OpenSSL) honours `sslmode` and `sslrootcert`
//! in the database URL, the connection really is encrypted, and a TLS failure is a quick startup
//! error that says "TLS" and prints no password.
//!
//! The tests against a TLS server need `CHAT_API_TEST_PG_URL` to name a server over TCP whose
//! certificate, for 127.0.0.1 and localhost, is signed by the CA in `CHAT_API_TEST_PG_TLS_CA`;
//! `CHAT_API_TEST_PG_TLS_WRONG_CA` names a CA that signed nothing there.
//! `scripts/pg-cluster start DIR --tls` makes such a server (`.ci/run` does).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    io::{Read, Write},
    net::TcpListener,
    time::{Duration, Instant},
};

use adapters::storage::{Database, DatabaseError, DatabaseUrl, DieselStorage, PoolSettings};
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_types::Bool};
use domain::{AccountRole, Tokens, Username};
use ports::{CreatedUser, NewUser, PasswordHash, UserRepository};
use test_support::{Backend, PG_URL_VAR, TestDatabase};

const CA_VAR: &str = "CHAT_API_TEST_PG_TLS_CA";
const WRONG_CA_VAR: &str = "CHAT_API_TEST_PG_TLS_WRONG_CA";

/// Longest a failing connection may take: a TLS failure is reported, never waited out.
const FAIL_FAST: Duration = Duration::from_secs(5);

/// A password that must never appear in an error.
const PASSWORD: &str = "s3cret-never-shown";

/// The CA files of the TLS test server.
struct TlsCas {
    right: String,
    wrong: String,
}

/// The CAs, if the TLS server is configured; prints the skip (or fails under REQUIRE_ALL) if not.
fn tls_server(test: &str) -> Option<TlsCas> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (
        test_support::pg_server_url(),
        var(CA_VAR),
        var(WRONG_CA_VAR),
    ) {
        (Some(_), Some(right), Some(wrong)) => Some(TlsCas { right, wrong }),
        _ => {
            test_support::skip(
                test,
                &format!(
                    "{PG_URL_VAR}, {CA_VAR} and {WRONG_CA_VAR} are not all set \
                     (scripts/pg-cluster start DIR --tls)"
                ),
            );
            None
        }
    }
}

/// `url` with `parameters` appended to its query string. libpq lets a later `host` override the
/// URL's own.
fn with_parameters(url: &str, parameters: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameters}")
}

fn connect(url: &str) -> Result<Database, DatabaseError> {
    Database::connect(&DatabaseUrl::parse(url).unwrap(), &PoolSettings::default())
}

/// Connecting to `url` fails within [`FAIL_FAST`]; returns the error.
fn connect_fails_fast(url: &str) -> DatabaseError {
    let started = Instant::now();
    let result = connect(url);
    let elapsed = started.elapsed();
    assert!(elapsed < FAIL_FAST, "took {elapsed:?} to fail");
    match result {
        Ok(_) => panic!("connected to {url}"),
        Err(error) => error,
    }
}

/// A TLS error whose message names TLS, contains `cause`, and not the password.
fn assert_tls_error(error: &DatabaseError, cause: &str) {
    let message = error.to_string();
    assert!(matches!(error, DatabaseError::Tls(_)), "{error:?}");
    assert!(message.contains("TLS"), "{message}");
    assert!(message.contains(cause), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
}

#[derive(QueryableByName)]
struct SslRow {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

/// Whether a pooled connection is encrypted, as the server sees it.
fn encrypted(database: &Database) -> bool {
    let Database::Postgres(pool) = database else {
        panic!("a PostgreSQL pool");
    };
    let row: SslRow = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut pool.get().unwrap())
        .unwrap();
    row.ssl
}

/// Connects to a fresh database with `parameters`, migrates it, writes a user and reads it back
/// through the repository; returns whether the connection was encrypted.
async fn migrate_and_use(parameters: &str) -> bool {
    let db = TestDatabase::create(Backend::Postgres);
    let database = connect(&with_parameters(&db.url, parameters)).unwrap();
    assert!(database.migrate().unwrap() >= 3, "every migration ran");
    let encrypted = encrypted(&database);
    let storage = DieselStorage::new(database);
    let new_user = NewUser {
        username: Username::parse("over_tls").unwrap(),
        password_hash: PasswordHash("$2b$04$hash".into()),
        role: AccountRole::User,
        joined_at: chrono::Utc::now(),
        signup_grant: Tokens::new(100),
    };
    let CreatedUser::Created(user) = storage.create(new_user).await.unwrap() else {
        panic!("a fresh database has no users");
    };
    assert_eq!(storage.find_by_id(user.id).await.unwrap(), Some(user));
    encrypted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_migrations_and_queries() {
    if tls_server("postgres_tls::sslmode_require_encrypts_migrations_and_queries").is_none() {
        return;
    }
    assert!(migrate_and_use("sslmode=require").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_ca_connects_by_address_and_by_name() {
    let test = "postgres_tls::verify_full_with_the_right_ca_connects_by_address_and_by_name";
    let Some(cas) = tls_server(test) else {
        return;
    };
    for host in ["127.0.0.1", "localhost"] {
        let parameters = format!("sslmode=verify-full&sslrootcert={}&host={host}", cas.right);
        assert!(migrate_and_use(&parameters).await, "encrypted to {host}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_disable_stays_plain_on_the_same_server() {
    if tls_server("postgres_tls::sslmode_disable_stays_plain_on_the_same_server").is_none() {
        return;
    }
    assert!(!migrate_and_use("sslmode=disable").await);
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let test = "postgres_tls::verify_full_checks_the_host_name_and_verify_ca_does_not";
    let Some(cas) = tls_server(test) else {
        return;
    };
    let server = test_support::pg_server_url().unwrap();
    // `hostaddr` is where libpq connects; `host` is the name it checks the certificate against.
    let elsewhere = format!(
        "host=db.invalid&hostaddr=127.0.0.1&sslrootcert={}",
        cas.right
    );
    let full = with_parameters(&server, &format!("{elsewhere}&sslmode=verify-full"));
    assert_tls_error(&connect_fails_fast(&full), "does not match host name");
    let ca_only = with_parameters(&server, &format!("{elsewhere}&sslmode=verify-ca"));
    assert!(encrypted(&connect(&ca_only).unwrap()));
}

#[test]
fn a_wrong_or_missing_ca_fails_fast_with_an_error_naming_tls() {
    let test = "postgres_tls::a_wrong_or_missing_ca_fails_fast_with_an_error_naming_tls";
    let Some(cas) = tls_server(test) else {
        return;
    };
    let server = test_support::pg_server_url().unwrap();
    let cases = [
        (
            "verify-full",
            cas.wrong.as_str(),
            "certificate verify failed",
        ),
        ("verify-ca", cas.wrong.as_str(), "certificate verify failed"),
        ("verify-full", "/nonexistent/ca.pem", "does not exist"),
    ];
    for (mode, root, cause) in cases {
        let parameters = format!("password={PASSWORD}&sslmode={mode}&sslrootcert={root}");
        let error = connect_fails_fast(&with_parameters(&server, &parameters));
        assert_tls_error(&error, cause);
    }
}

/// A loopback server that answers PostgreSQL's TLS request with "no", as a server without TLS
/// does, then hangs up; returns its port.
fn server_without_tls() -> u16 {
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0; 8];
            if stream.read_exact(&mut request).is_ok() && request == SSL_REQUEST {
                let _client_may_hang_up = stream.write_all(b"N");
            }
        }
    });
    port
}

#[test]
fn sslmode_require_against_a_server_without_tls_fails_fast_naming_tls() {
    let port = server_without_tls();
    let url = format!(
        "postgres://app:{PASSWORD}@127.0.0.1:{port}/chat?sslmode=require&connect_timeout=3"
    );
    assert_tls_error(
        &connect_fails_fast(&url),
        "server does not support SSL, but SSL was required",
    );
}

#[test]
fn malformed_urls_fail_without_printing_the_password() {
    let bad_escape = format!("postgres://app:p%zz{PASSWORD}@127.0.0.1:1/chat");
    let error = connect_fails_fast(&bad_escape);
    let message = error.to_string();
    assert!(
        message.contains("invalid percent-encoded token"),
        "{message}"
    );
    assert!(!message.contains(PASSWORD), "{message}");

    let bad_mode = format!("postgres://app@127.0.0.1:1/chat?password={PASSWORD}&sslmode=bogus");
    assert_tls_error(&connect_fails_fast(&bad_mode), "sslmode");
}

/// Where the child process of the exit test connects.
const CHILD_URL_VAR: &str = "CHAT_API_TEST_PG_TLS_CHILD_URL";

/// The child half of [`exiting_while_tls_handshakes_are_under_way_does_not_crash`]: opens the
/// database as the service does, keeps four threads connecting (as r2d2's workers do when they
/// refill the pool), and returns, so the process exits in the middle of TLS handshakes.
#[test]
#[ignore = "a child process of exiting_while_tls_handshakes_are_under_way_does_not_crash"]
fn child_exits_while_tls_handshakes_are_under_way() {
    let url = std::env::var(CHILD_URL_VAR).unwrap();
    let _database = connect(&url).unwrap();
    let (connected, handshakes) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let (url, connected) = (url.clone(), connected.clone());
        std::thread::spawn(move || {
            while diesel::PgConnection::establish(&url).is_ok() && connected.send(()).is_ok() {}
        });
    }
    for _ in 0..20 {
        handshakes.recv().unwrap();
    }
}

#[test]
fn exiting_while_tls_handshakes_are_under_way_does_not_crash() {
    let test = "postgres_tls::exiting_while_tls_handshakes_are_under_way_does_not_crash";
    if tls_server(test).is_none() {
        return;
    }
    let url = with_parameters(&test_support::pg_server_url().unwrap(), "sslmode=require");
    // OpenSSL's exit-time clean-up crashed about one such exit in ten: forty runs catch it
    // almost surely.
    for run in 0..40 {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_exits_while_tls_handshakes_are_under_way",
            ])
            .env(CHILD_URL_VAR, &url)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "run {run}: {status}");
    }
}
