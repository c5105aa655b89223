//! The real binary: subcommands, crashes (SIGKILL and a failpoint between charge and response),
//! several processes on one database, and a database restart under traffic.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, TestDatabase, on_every_backend, sql};

use crate::binary::{OwnCluster, ServerProcess, run};

/// A client of one server process.
#[derive(Clone)]
pub struct Remote {
    pub client: reqwest::Client,
    pub address: String,
}

impl Remote {
    pub fn of(server: &ServerProcess) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            address: server.address.clone(),
        }
    }

    async fn post(
        &self,
        path: &str,
        body: Value,
        access: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .json(&body);
        if let Some(access) = access {
            request = request.header("Authorization", format!("Token {access}"));
        }
        request.send().await
    }

    async fn register(&self, username: &str) -> StatusCode {
        self.post(
            "/register/",
            json!({"username": username, "password": "password123"}),
            None,
        )
        .await
        .unwrap()
        .status()
    }

    pub async fn signed_up(&self, username: &str) -> String {
        assert_eq!(self.register(username).await, StatusCode::CREATED);
        let login = self
            .post(
                "/login/",
                json!({"username": username, "password": "password123"}),
                None,
            )
            .await
            .unwrap();
        login.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn chat(&self, access: &str, message: &str) -> Result<StatusCode, reqwest::Error> {
        self.post("/chatView/", json!({"message": message}), Some(access))
            .await
            .map(|r| r.status())
    }
}

/// Four users chatting 40 times each with one server, each as fast as its answers come. A request
/// the server no longer answers ends that user's chats; any status but 200 fails the test.
pub struct ChatLoad {
    answered: Arc<Mutex<Vec<String>>>,
    users: Vec<tokio::task::JoinHandle<()>>,
}

impl ChatLoad {
    /// Signs up `{prefix}0` … `{prefix}3` and starts their chats.
    pub async fn start(remote: &Remote, prefix: &str) -> Self {
        let mut sessions = Vec::new();
        for user in 0..4 {
            sessions.push(remote.signed_up(&format!("{prefix}{user}")).await);
        }
        let answered = Arc::new(Mutex::new(Vec::new()));
        let users = sessions
            .into_iter()
            .enumerate()
            .map(|(user, access)| {
                let (remote, answered) = (remote.clone(), answered.clone());
                let prefix = prefix.to_owned();
                tokio::spawn(async move {
                    for i in 0..40 {
                        let message = format!("{prefix}-{user}-{i}");
                        match remote.chat(&access, &message).await {
                            Ok(StatusCode::OK) => answered.lock().unwrap().push(message),
                            Ok(status) => panic!("unexpected {status} under load"),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Self { answered, users }
    }

    /// Waits (bounded) until `count` chats have been answered.
    pub async fn wait_for_answers(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.answered.lock().unwrap().len() < count {
            assert!(Instant::now() < deadline, "load did not get going");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for every user to stop; returns the messages answered with 200.
    pub async fn finish(self) -> Vec<String> {
        join_all(self.users).await;
        self.answered.lock().unwrap().clone()
    }
}

/// Deadlines short enough that the sweeper settles a crash within seconds.
pub const FAST_SWEEP: [(&str, &str); 4] = [
    ("CHAT_API__RESPONDER__TIMEOUT_SECS", "1"),
    ("CHAT_API__RESPONDER__MAX_DURATION_SECS", "1"),
    ("CHAT_API__LEDGER__CHARGE_GRACE_SECS", "1"),
    ("CHAT_API__LEDGER__SWEEP_INTERVAL_SECS", "1"),
];

fn pending_charges(url: &str) -> i64 {
    sql::integer(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM chat_charges WHERE status = 'pending'",
    )
}

/// Waits (bounded) until the sweeper has settled every pending charge.
pub async fn wait_for_no_pending_charges(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while pending_charges(url) > 0 {
        assert!(Instant::now() < deadline, "pending charges were not swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Invariant 4 over the whole database: every user paid exactly for the chats stored, every
/// message a client saw answered with 200 is stored, and `check-ledger` agrees.
pub fn assert_charged_exactly_for_stored_chats(
    url: &str,
    workdir: &std::path::Path,
    answered: &[String],
) {
    let stored = sql::strings(url, "SELECT message AS value FROM chats");
    for message in answered {
        assert_eq!(
            stored.iter().filter(|m| *m == message).count(),
            1,
            "answered chat {message:?} must be stored once"
        );
    }
    let mismatched = sql::integer(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM users u WHERE u.tokens <> \
         (SELECT SUM(amount) FROM ledger_entries l WHERE l.user_id = u.id AND l.kind = \
         'signup_grant') - 100 * \
         (SELECT COUNT(*) FROM chats c WHERE c.user_id = u.id AND c.status = 'completed')",
    );
    assert_eq!(
        mismatched, 0,
        "a user was charged for a chat that is not stored (or the reverse)"
    );
    let check = run(url, workdir, &["check-ledger"], &[]);
    assert!(
        check.status.success(),
        "check-ledger: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[apply(on_every_backend)]
async fn a_sigkill_mid_load_loses_no_money(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&db.url, workdir.path(), &FAST_SWEEP).await;
    let load = ChatLoad::start(&Remote::of(&server), "crash").await;
    load.wait_for_answers(30).await;
    server.kill();
    let answered = load.finish().await;
    assert!(answered.len() < 160, "the kill landed mid-load");

    let _restarted = ServerProcess::start(&db.url, workdir.path(), &FAST_SWEEP).await;
    wait_for_no_pending_charges(&db.url).await;
    assert_charged_exactly_for_stored_chats(&db.url, workdir.path(), &answered);
}

#[apply(on_every_backend)]
async fn three_processes_share_one_database_without_overspending(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let first = ServerProcess::start(&db.url, workdir.path(), &[]).await;
    let servers = [
        first,
        ServerProcess::start(&db.url, workdir.path(), &[]).await,
        ServerProcess::start(&db.url, workdir.path(), &[]).await,
    ];
    let remotes: Vec<Remote> = servers.iter().map(Remote::of).collect();

    let registrations = (0..10).map(|i| {
        let remote = remotes[i % 2].clone();
        tokio::spawn(async move {
            remote
                .register(if i % 3 == 0 { "Shared" } else { "shared" })
                .await
        })
    });
    let statuses: Vec<StatusCode> = join_all(registrations)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::BAD_REQUEST)
    );

    let access = remotes[0].signed_up("spender").await;
    let chats = (0..300).map(|i| {
        let (remote, access) = (remotes[i % 3].clone(), access.clone());
        tokio::spawn(async move { remote.chat(&access, &format!("scale {i}")).await.unwrap() })
    });
    let statuses = crate::helpers::join_statuses(chats).await;
    let (ok, refused) = crate::helpers::answered_and_refused(&statuses);
    assert_eq!((ok, refused), (40, 260));
    let spender = "(SELECT id FROM users WHERE username = 'spender')";
    assert_eq!(
        sql::integer(
            &db.url,
            &format!("SELECT CAST(tokens AS TEXT) AS value FROM users WHERE id = {spender}")
        ),
        0
    );
    assert_eq!(
        sql::integer(
            &db.url,
            &format!(
                "SELECT CAST(COUNT(*) AS TEXT) AS value FROM chats \
                 WHERE user_id = {spender} AND status = 'completed'"
            )
        ),
        40
    );
    let check = run(&db.url, workdir.path(), &["check-ledger"], &[]);
    assert!(check.status.success());
}

/// Sends `count` requests at once, spread over `remotes` in turn; returns how many got each status.
async fn burst_across(
    remotes: &[Remote],
    count: usize,
    path: &'static str,
    body: impl Fn(usize) -> Value,
) -> std::collections::BTreeMap<u16, usize> {
    let requests = (0..count).map(|i| {
        let (remote, body) = (remotes[i % remotes.len()].clone(), body(i));
        tokio::spawn(async move { remote.post(path, body, None).await.unwrap().status() })
    });
    let mut tally = std::collections::BTreeMap::new();
    for status in crate::helpers::join_statuses(requests).await {
        *tally.entry(status.as_u16()).or_default() += 1;
    }
    tally
}

#[apply(on_every_backend)]
async fn three_processes_share_the_exact_throttle_limits(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let first = ServerProcess::start(&db.url, workdir.path(), &[]).await;
    let servers = [
        first,
        ServerProcess::start(&db.url, workdir.path(), &[]).await,
        ServerProcess::start(&db.url, workdir.path(), &[]).await,
    ];
    let remotes: Vec<Remote> = servers.iter().map(Remote::of).collect();
    let sign_ups = burst_across(
        &remotes,
        60,
        "/register/",
        |i| json!({"username": format!("farm{i}"), "password": "password123"}),
    )
    .await;
    assert_eq!(sign_ups, [(201, 20), (429, 40)].into(), "{sign_ups:?}");
    let guesses = burst_across(
        &remotes,
        40,
        "/login/",
        |_| json!({"username": "farm0", "password": "wrong-password-1"}),
    )
    .await;
    assert_eq!(guesses, [(401, 5), (429, 35)].into(), "{guesses:?}");
}

#[apply(on_every_backend)]
async fn throttle_clear_lifts_a_login_lock(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&db.url, workdir.path(), &[]).await;
    let remote = Remote::of(&server);
    remote.signed_up("locked").await;
    let login = |password: &'static str| {
        let remote = remote.clone();
        async move {
            remote
                .post(
                    "/login/",
                    json!({"username": "locked", "password": password}),
                    None,
                )
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..5 {
        assert_eq!(login("wrong-password-1").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("password123").await, StatusCode::TOO_MANY_REQUESTS);
    let clear = run(
        &db.url,
        workdir.path(),
        &["throttle", "clear", "--username", "LOCKED"],
        &[],
    );
    assert!(
        clear.status.success(),
        "{}",
        String::from_utf8_lossy(&clear.stderr)
    );
    assert!(String::from_utf8_lossy(&clear.stdout).contains("lifted"));
    assert_eq!(login("password123").await, StatusCode::OK);
    let missing = run(&db.url, workdir.path(), &["throttle", "clear"], &[]);
    assert_eq!(missing.status.code(), Some(2), "--username is required");
}

#[apply(on_every_backend)]
async fn check_ledger_passes_on_consistent_data_and_fails_on_tampered_data(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&db.url, workdir.path(), &[]).await;
    let remote = Remote::of(&server);
    let access = remote.signed_up("audited").await;
    assert_eq!(remote.chat(&access, "hi").await.unwrap(), StatusCode::OK);
    let check = run(&db.url, workdir.path(), &["check-ledger"], &[]);
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("ledger consistent"));

    assert_eq!(
        sql::execute(
            &db.url,
            "UPDATE users SET tokens = tokens + 1 WHERE username = 'audited'"
        ),
        1
    );
    let check = run(&db.url, workdir.path(), &["check-ledger"], &[]);
    assert_eq!(check.status.code(), Some(1));
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains("VIOLATION") && report.contains("3901") && report.contains("3900"),
        "{report}"
    );

    // The balance repaired, a chat's recorded charge tampered with: invariant 4, per chat.
    sql::execute(
        &db.url,
        "UPDATE users SET tokens = tokens - 1 WHERE username = 'audited'",
    );
    assert_eq!(
        sql::execute(&db.url, "UPDATE chats SET tokens_charged = 7"),
        1
    );
    let check = run(&db.url, workdir.path(), &["check-ledger"], &[]);
    assert_eq!(check.status.code(), Some(1));
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains("records 7 tokens charged but its ledger entries took 100")
            && report.contains("1 violations"),
        "{report}"
    );
}

#[apply(on_every_backend)]
async fn createsuperuser_reads_the_password_from_stdin(backend: Backend) {
    use std::io::Write;
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let mut command = crate::binary::command(&db.url, workdir.path());
    command
        .args([
            "createsuperuser",
            "--username",
            "root_admin",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"admin-password-1\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        sql::strings(
            &db.url,
            "SELECT CAST(is_superuser AS TEXT) AS value FROM users WHERE username = 'root_admin'"
        )
        .len(),
        1
    );
    let is_superuser = sql::strings(
        &db.url,
        "SELECT CASE WHEN is_superuser THEN 'yes' ELSE 'no' END AS value FROM users WHERE username = 'root_admin'",
    );
    assert_eq!(is_superuser, vec!["yes".to_owned()]);

    let weak = run(
        &db.url,
        workdir.path(),
        &["createsuperuser", "--username", "other_admin"],
        &[("CHAT_API_SUPERUSER_PASSWORD", "123")],
    );
    assert_eq!(weak.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password"),
        "the error says what is wrong"
    );
}

#[test]
fn startup_refuses_unknown_schemes_and_missing_secrets() {
    let workdir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", workdir.path().join("x.db").display());
    let unknown = run("mysql://db/chat", workdir.path(), &["migrate"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("unsupported database URL scheme \"mysql\"")
    );
    assert!(
        !workdir.path().join("mysql:").exists(),
        "no SQLite file is created for an unknown scheme"
    );

    let mut production = crate::binary::command(&sqlite, workdir.path());
    production
        .env_remove("CHAT_API__AUTH__JWT_SECRET")
        .env("CHAT_API__PROFILE", "production")
        .arg("serve");
    let output = production.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("requires auth.jwt_secret"));

    let short = run(
        &sqlite,
        workdir.path(),
        &["serve"],
        &[
            ("CHAT_API__AUTH__JWT_SECRET", "short"),
            ("CHAT_API__PROFILE", "production"),
        ],
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 32 bytes"));
}

#[test]
fn the_development_profile_refuses_to_listen_on_every_address_unless_told_to() {
    let workdir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", workdir.path().join("dev.db").display());
    let public = run(
        &sqlite,
        workdir.path(),
        &["serve"],
        &[("CHAT_API__SERVER__HOST", "0.0.0.0")],
    );
    assert_eq!(public.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&public.stderr);
    assert!(
        stderr.contains("server.host") && stderr.contains("allow_public_bind_in_development"),
        "{stderr}"
    );
    let allowed = run(
        &sqlite,
        workdir.path(),
        &["migrate"],
        &[
            ("CHAT_API__SERVER__HOST", "0.0.0.0"),
            ("CHAT_API__SERVER__ALLOW_PUBLIC_BIND_IN_DEVELOPMENT", "true"),
        ],
    );
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
}

/// The database file the development profile keeps its generated JWT secret in is readable by
/// its owner only.
#[cfg(unix)]
#[test]
fn the_sqlite_database_is_created_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let workdir = tempfile::tempdir().unwrap();
    let file = workdir.path().join("chat-api.db");
    let sqlite = format!("sqlite://{}", file.display());
    let mut migrate = crate::binary::command(&sqlite, workdir.path());
    let output = migrate
        .env_remove("CHAT_API__AUTH__JWT_SECRET")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(output.status.success());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[cfg(feature = "failpoints")]
#[apply(on_every_backend)]
async fn a_crash_between_charge_and_response_is_refunded_by_the_sweeper(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let mut env = FAST_SWEEP.to_vec();
    env.push(("FAILPOINTS", "send_chat::after_reserve=return"));
    let server = ServerProcess::start(&db.url, workdir.path(), &env).await;
    let remote = Remote::of(&server);
    let access = remote.signed_up("victim").await;
    assert!(
        remote.chat(&access, "never answered").await.is_err(),
        "the process dies mid-request"
    );
    assert!(!server.wait_for_exit(Duration::from_secs(10)).success());

    let tokens = "SELECT CAST(tokens AS TEXT) AS value FROM users WHERE username = 'victim'";
    assert_eq!(
        sql::integer(&db.url, tokens),
        3900,
        "the charge was committed before the crash"
    );
    assert_eq!(pending_charges(&db.url), 1);

    let _restarted = ServerProcess::start(&db.url, workdir.path(), &FAST_SWEEP).await;
    wait_for_no_pending_charges(&db.url).await;
    assert_eq!(
        sql::integer(&db.url, tokens),
        4000,
        "the sweeper refunded the charge"
    );
    let refunds = sql::integer(
        &db.url,
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM ledger_entries WHERE kind = 'refund'",
    );
    assert_eq!(refunds, 1);
    assert_charged_exactly_for_stored_chats(&db.url, workdir.path(), &[]);
}

/// SQLite's writer answers an operation only after its batch committed: a crash after a batch ran
/// and before its commit (the failpoint aborts the process there, at the 61st batch: after the
/// sign-ups, while four users chat) loses only chats nobody was told about.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_a_batch_and_its_commit_loses_no_answered_chat() {
    let db = TestDatabase::create(Backend::Sqlite);
    let workdir = tempfile::tempdir().unwrap();
    let mut env = FAST_SWEEP.to_vec();
    env.push((
        "FAILPOINTS",
        "storage::writer::before_commit=60*off->return",
    ));
    let server = ServerProcess::start(&db.url, workdir.path(), &env).await;
    let load = ChatLoad::start(&Remote::of(&server), "batch").await;
    let answered = load.finish().await;
    assert!(
        !server.wait_for_exit(Duration::from_secs(10)).success(),
        "the process died at the failpoint"
    );
    assert!(
        !answered.is_empty() && answered.len() < 160,
        "the crash landed mid-load ({} chats answered)",
        answered.len()
    );

    let _restarted = ServerProcess::start(&db.url, workdir.path(), &FAST_SWEEP).await;
    wait_for_no_pending_charges(&db.url).await;
    assert_charged_exactly_for_stored_chats(&db.url, workdir.path(), &answered);
}

#[cfg(not(feature = "failpoints"))]
#[test]
fn a_crash_between_a_batch_and_its_commit_loses_no_answered_chat() {
    test_support::skip(
        "processes::a_crash_between_a_batch_and_its_commit_loses_no_answered_chat",
        "built without the `failpoints` feature (run the tests with --all-features)",
    );
}

#[cfg(not(feature = "failpoints"))]
#[test]
fn a_crash_between_charge_and_response_is_refunded_by_the_sweeper() {
    test_support::skip(
        "processes::a_crash_between_charge_and_response_is_refunded_by_the_sweeper",
        "built without the `failpoints` feature (run the tests with --all-features)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_traffic_gives_503_not_500_and_loses_nothing() {
    let name = "processes::a_database_restart_mid_traffic_gives_503_not_500_and_loses_nothing";
    if !test_support::available(Backend::Postgres, name) {
        return;
    }
    let cluster = OwnCluster::start();
    let workdir = tempfile::tempdir().unwrap();
    let mut env = FAST_SWEEP.to_vec();
    env.push(("CHAT_API__DATABASE__ACQUIRE_TIMEOUT_MS", "500"));
    // Enough tokens that however long the cluster takes to stop, no chat is refused for want of
    // them (only 200 and 503 may happen).
    env.push(("CHAT_API__LEDGER__SIGNUP_GRANT", "1000000"));
    let server = ServerProcess::start(&cluster.url, workdir.path(), &env).await;
    let remote = Remote::of(&server);
    let access = remote.signed_up("steady").await;

    let statuses = Arc::new(Mutex::new(Vec::<(String, StatusCode)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (remote, statuses, stop) = (remote.clone(), statuses.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 2000 {
                let message = format!("outage-{i}");
                let status = remote
                    .chat(&access, &message)
                    .await
                    .expect("the service itself stays up");
                statuses.lock().unwrap().push((message, status));
                i += 1;
            }
        })
    };
    let count = |wanted: StatusCode| {
        statuses
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| *s == wanted)
            .count()
    };
    let wait_until = |condition: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not reached");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_until(&|| count(StatusCode::OK) >= 5);
    cluster.control("stop");
    wait_until(&|| count(StatusCode::SERVICE_UNAVAILABLE) >= 3);
    let ok_before_recovery = count(StatusCode::OK);
    cluster.control("resume");
    wait_until(&|| count(StatusCode::OK) >= ok_before_recovery + 5);
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();

    let statuses = statuses.lock().unwrap().clone();
    let unexpected: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| *s != StatusCode::OK && *s != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 200 and 503 are acceptable: {unexpected:?}"
    );
    let answered: Vec<String> = statuses
        .iter()
        .filter(|(_, s)| *s == StatusCode::OK)
        .map(|(m, _)| m.clone())
        .collect();
    wait_for_no_pending_charges(&cluster.url).await;
    assert_charged_exactly_for_stored_chats(&cluster.url, workdir.path(), &answered);
}
