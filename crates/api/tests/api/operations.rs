//! What operators rely on: probes, metrics, request ids in responses and logs, and a graceful stop
//! under load that loses no money.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use secrecy::SecretString;
use serde_json::{Value, json};
use test_support::{Backend, TestDatabase, on_every_backend, sql};

use crate::{
    binary::{OwnCluster, ServerProcess},
    helpers::*,
    processes::{
        ChatLoad, FAST_SWEEP, Remote, assert_charged_exactly_for_stored_chats,
        wait_for_no_pending_charges,
    },
};

/// The value of the series named exactly `series` (name and labels) in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// Polls `/metrics` until `series` reads `wanted` (the ledger audit runs on its own schedule).
async fn wait_for_sample(app: &TestApp, series: &str, wanted: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = scrape(app).await;
        if sample(&page, series) == Some(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never read {wanted}:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[apply(on_every_backend)]
async fn metrics_follow_requests_chats_refusals_and_the_ledger(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.ledger.signup_grant = 200;
            settings.ledger.audit_interval_secs = 1;
        },
        Overrides::default(),
    )
    .await;
    let session = app.signed_up("metered").await;
    for message in ["one", "two"] {
        assert_eq!(
            app.chat(&session.access, message).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.chat(&session.access, "three").await.status(),
        StatusCode::PAYMENT_REQUIRED
    );
    let unknown = app
        .client
        .get(app.url("/wp-admin.php"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let page = scrape(&app).await;
    let chats = |status: &str| {
        format!(r#"http_requests_total{{method="POST",route="/chatView/",status="{status}"}}"#)
    };
    assert_eq!(sample(&page, &chats("200")), Some(2.0), "{page}");
    assert_eq!(sample(&page, &chats("402")), Some(1.0));
    assert_eq!(
        sample(
            &page,
            r#"http_request_duration_seconds_count{method="POST",route="/chatView/",status="200"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &page,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(1.0),
        "an unknown path is counted under the one fixed label"
    );
    assert!(!page.contains("wp-admin"), "no series per unknown path");
    assert_eq!(sample(&page, "chats_answered_total"), Some(2.0));
    assert_eq!(sample(&page, "tokens_spent_total"), Some(200.0));
    assert_eq!(
        sample(&page, "chats_refused_insufficient_tokens_total"),
        Some(1.0)
    );
    assert_eq!(sample(&page, "responder_duration_seconds_count"), Some(2.0));
    // PostgreSQL: the pool's size. SQLite: the writer and one reader per core, at most
    // `max_connections` readers.
    let max_connections = app.settings.database.max_connections;
    let connections = match backend {
        Backend::Postgres => max_connections,
        Backend::Sqlite => {
            let cores = std::thread::available_parallelism().unwrap().get();
            u32::try_from(cores).unwrap().min(max_connections) + 1
        }
    };
    assert_eq!(
        sample(&page, "db_pool_max_connections"),
        Some(f64::from(connections))
    );
    assert!(sample(&page, "db_pool_waiting").is_some());

    wait_for_sample(&app, "ledger_drift", 0.0).await;
    wait_for_sample(&app, "pending_charges", 0.0).await;
    let tamper = |delta: &str| {
        let statement =
            format!("UPDATE users SET tokens = tokens {delta} WHERE username = 'metered'");
        assert_eq!(sql::execute(&app.database.url, &statement), 1);
    };
    tamper("+ 7");
    wait_for_sample(&app, "ledger_drift", 7.0).await;
    tamper("- 7");
    wait_for_sample(&app, "ledger_drift", 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responder_failures_and_their_refunds_are_counted_by_cause() {
    let failing = FnResponder(|_| async { Err(ports::ResponderError::Failed("down".into())) });
    let overrides = Overrides::responder(Arc::new(failing));
    let app = spawn_app_with(Backend::Sqlite, |_| {}, overrides).await;
    let session = app.signed_up("unlucky").await;
    assert_eq!(
        app.chat(&session.access, "hello?").await.status(),
        StatusCode::BAD_GATEWAY
    );
    let page = scrape(&app).await;
    assert_eq!(
        sample(&page, r#"responder_errors_total{error="failed"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, r#"refunds_total{cause="responder_failed"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&page, "chats_answered_total"), Some(0.0));
    assert_eq!(sample(&page, "tokens_spent_total"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_credentials_and_are_never_cached() {
    let app = spawn_app(Backend::Sqlite).await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert!(response.headers().contains_key("x-request-id"), "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"status": status})
        );
    }
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener_require_the_bearer_token() {
    let token = "scrape-token-0123456789";
    let app = spawn_app_with(
        Backend::Sqlite,
        |settings| {
            settings.server.metrics_addr = Some("127.0.0.1:0".into());
            settings.server.metrics_token = Some(SecretString::from(token.to_owned()));
        },
        Overrides::default(),
    )
    .await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(main, StatusCode::NOT_FOUND, "not_found").await;
    let metrics = format!("{}/metrics", app.metrics_address.as_deref().unwrap());
    let anonymous = app.client.get(&metrics).send().await.unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    let wrong = app
        .client
        .get(&metrics)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "token_invalid").await;
    let allowed = app
        .client
        .get(&metrics)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("http_requests_total")
    );
}

async fn readiness(app: &TestApp) -> reqwest::Response {
    app.client.get(app.url("/readyz")).send().await.unwrap()
}

#[apply(on_every_backend)]
async fn readiness_needs_every_known_migration_and_accepts_a_newer_schema(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(readiness(&app).await.status(), StatusCode::OK);
    let url = &app.database.url;
    let latest = sql::strings(
        url,
        "SELECT version AS value FROM __diesel_schema_migrations ORDER BY version DESC",
    )
    .remove(0);
    let forget = format!("DELETE FROM __diesel_schema_migrations WHERE version = '{latest}'");
    assert_eq!(sql::execute(url, &forget), 1);
    let behind = readiness(&app).await;
    assert_eq!(behind.headers()["retry-after"], "1");
    let body = assert_problem(behind, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert!(
        body["detail"].as_str().unwrap().contains("migrations"),
        "{body}"
    );
    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        healthz.status(),
        StatusCode::OK,
        "liveness asks no database"
    );

    let record = |version: &str| {
        let insert =
            format!("INSERT INTO __diesel_schema_migrations (version) VALUES ('{version}')");
        assert_eq!(sql::execute(url, &insert), 1);
    };
    record(&latest);
    assert_eq!(readiness(&app).await.status(), StatusCode::OK);
    record("99991231000000");
    assert_eq!(
        readiness(&app).await.status(),
        StatusCode::OK,
        "a schema migrated by a newer release keeps this one ready"
    );
}

/// Polls `/readyz` of `remote` until it answers `wanted`, checking each answer comes quickly.
async fn wait_for_readiness(remote: &Remote, wanted: StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let asked = Instant::now();
        let response = remote
            .client
            .get(format!("{}/readyz", remote.address))
            .send()
            .await
            .expect("the process stays up");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "/readyz took {:?}",
            asked.elapsed()
        );
        if response.status() == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz never answered {wanted}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_while_postgres_is_down_and_200_once_it_is_back() {
    let name = "operations::readiness_is_503_while_postgres_is_down_and_200_once_it_is_back";
    if !test_support::available(Backend::Postgres, name) {
        return;
    }
    let cluster = OwnCluster::start();
    let workdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&cluster.url, workdir.path(), &[]).await;
    let remote = Remote::of(&server);
    wait_for_readiness(&remote, StatusCode::OK).await;
    cluster.control("stop");
    wait_for_readiness(&remote, StatusCode::SERVICE_UNAVAILABLE).await;
    let healthz = remote
        .client
        .get(format!("{}/healthz", remote.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);
    cluster.control("resume");
    wait_for_readiness(&remote, StatusCode::OK).await;
    server.signal("INT");
    let status = server.wait_for_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "SIGINT is a graceful stop too");
}

#[apply(on_every_backend)]
async fn sigterm_under_chat_load_finishes_in_flight_chats_and_exits_0(backend: Backend) {
    let db = TestDatabase::create(backend);
    let workdir = tempfile::tempdir().unwrap();
    let mut env = FAST_SWEEP.to_vec();
    env.push(("CHAT_API__SERVER__SHUTDOWN_TIMEOUT_SECS", "20"));
    let server = ServerProcess::start(&db.url, workdir.path(), &env).await;
    let load = ChatLoad::start(&Remote::of(&server), "draining").await;
    load.wait_for_answers(30).await;
    server.signal("TERM");
    let status = server.wait_for_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let answered = load.finish().await;

    // A chat whose client was gone when its worker stopped may keep its charge pending
    // (ledger.md): the next process's sweeper refunds it.
    let _restarted = ServerProcess::start(&db.url, workdir.path(), &FAST_SWEEP).await;
    wait_for_no_pending_charges(&db.url).await;
    assert_charged_exactly_for_stored_chats(&db.url, workdir.path(), &answered);
}

/// Every line of a JSON log, parsed; a line that is not one JSON object fails the test.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_response_the_body_and_every_json_log_line() {
    let db = TestDatabase::create(Backend::Sqlite);
    let workdir = tempfile::tempdir().unwrap();
    let log_path = workdir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("CHAT_API__LOG__FORMAT", "json"),
        ("CHAT_API__LOG__LEVEL", "info"),
    ];
    let server = ServerProcess::start_logging_to(&db.url, workdir.path(), &env, log.into()).await;
    let remote = Remote::of(&server);
    let access = remote.signed_up("traced").await;

    let chat = remote
        .client
        .post(format!("{}/chatView/", remote.address))
        .header("Authorization", format!("Token {access}"))
        .header("X-Request-Id", "trace-me-0001")
        .json(&json!({"message": "where am I logged?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
    assert_eq!(chat.headers()["x-request-id"], "trace-me-0001");
    let forged = remote
        .client
        .get(format!("{}/token_balance/", remote.address))
        .header("Authorization", "Token not-a-jwt")
        .header("X-Request-Id", "trace-me-0002")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()["x-request-id"], "trace-me-0002");
    let body = assert_problem(forged, StatusCode::UNAUTHORIZED, "token_invalid").await;
    assert_eq!(body["request_id"], "trace-me-0002");
    server.signal("TERM");
    assert!(server.wait_for_exit(Duration::from_secs(60)).success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = json_lines(&log);
    let access_line = |id: &str| {
        lines
            .iter()
            .find(|line| line["target"] == "access" && line["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}:\n{log}"))
            .clone()
    };
    let line = access_line("trace-me-0001");
    assert_eq!(
        (&line["method"], &line["route"], &line["status"]),
        (&json!("POST"), &json!("/chatView/"), &json!(200))
    );
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert_eq!(line["user_id"], json!(user_id_of(&access)));
    let line = access_line("trace-me-0002");
    assert_eq!(line["status"], json!(401));
    assert!(
        line.get("user_id").is_none(),
        "nobody was authenticated: {line}"
    );
    let refusal = lines
        .iter()
        .find(|line| line["message"] == "token refused")
        .unwrap_or_else(|| panic!("no refusal line:\n{log}"));
    assert_eq!(
        refusal["span"]["request_id"], "trace-me-0002",
        "a line logged inside a request names it: {refusal}"
    );
    for secret in ["password123", access.as_str(), "not-a-jwt"] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}
