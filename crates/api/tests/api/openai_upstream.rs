//! `/chatView/` answered by the `openai` responder, pointed at a stub upstream on loopback: the
//! request it sends, and what every kind of upstream failure costs the user (nothing).

use std::{process::Stdio, time::Duration};

use api::settings::ResponderKind;
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use secrecy::SecretString;
use serde_json::{Value, json};
use test_support::{
    Backend, TestDatabase, on_every_backend, sql,
    stub_upstream::{Gate, Reply, StubUpstream, refused_base_url},
};

use crate::{binary::ServerProcess, helpers::*};

const API_KEY: &str = "sk-upstream-secret-0123456789";

/// A service whose responder is the `openai` adapter at `base_url`, with the test key.
async fn app_on(
    backend: Backend,
    base_url: &str,
    configure: impl FnOnce(&mut api::Settings),
) -> TestApp {
    let base_url = base_url.to_owned();
    spawn_app_with(
        backend,
        |settings| {
            let responder = &mut settings.responder;
            responder.kind = ResponderKind::OpenAi;
            responder.base_url = Some(base_url);
            responder.model = Some("stub-model".into());
            responder.api_key = Some(SecretString::from(API_KEY.to_owned()));
            configure(settings);
        },
        Overrides::default(),
    )
    .await
}

/// Asserts one charged exchange of `message` answered `answer`.
async fn assert_charged_once(app: &TestApp, session: &Session, message: &str, answer: &str) {
    assert_eq!(app.balance(&session.access).await, 3900);
    let user = domain::UserId(user_id_of(&session.access));
    assert_eq!(app.completed_chats(&session.access).await, 1);
    let stored = sql::strings(
        &app.database.url,
        &format!(
            "SELECT message || '|' || response AS value FROM chats WHERE user_id = {}",
            user.0
        ),
    );
    assert_eq!(stored, vec![format!("{message}|{answer}")]);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn an_upstream_answer_is_returned_stored_and_charged_once(backend: Backend) {
    let stub = StubUpstream::start().await;
    stub.push(Reply::completion(
        "Hi from the model.",
        "stub-model-v2",
        12,
        5,
    ));
    let app = app_on(backend, &stub.base_url(), |_| {}).await;
    let session = app.signed_up("modeluser").await;
    let response = app.chat(&session.access, "Hello, model").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response"], "Hi from the model.");
    assert_charged_once(&app, &session, "Hello, model", "Hi from the model.").await;
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(sent.body["model"], "stub-model");
    assert_eq!(sent.body["max_tokens"], 512);
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(
        messages.last(),
        Some(&json!({"role": "user", "content": "Hello, model"}))
    );
}

#[apply(on_every_backend)]
async fn the_system_prompt_and_the_last_exchanges_go_upstream_in_role_order(backend: Backend) {
    let stub = StubUpstream::start().await;
    for answer in ["first answer", "second answer", "third answer"] {
        stub.push(Reply::completion(answer, "stub-model", 10, 2));
    }
    let app = app_on(backend, &stub.base_url(), |settings| {
        settings.responder.system_prompt = Some("Be brief.".into());
        settings.responder.context_messages = 1;
    })
    .await;
    let session = app.signed_up("memoryuser").await;
    for message in ["first question", "second question", "third question"] {
        assert_eq!(
            app.chat(&session.access, message).await.status(),
            StatusCode::OK
        );
    }
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].body["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "second question"},
            {"role": "assistant", "content": "second answer"},
            {"role": "user", "content": "third question"},
        ]),
        "the system prompt first, then only the latest exchange, then the new message"
    );
    assert_eq!(
        requests[0].body["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first question"},
        ])
    );
}

#[apply(on_every_backend)]
async fn a_rate_limited_upstream_is_retried_and_the_chat_charged_once(backend: Backend) {
    let stub = StubUpstream::start().await;
    stub.push(Reply::error(429, "slow down").with_header("Retry-After", "1"));
    stub.push(Reply::completion("Patience pays.", "stub-model", 3, 2));
    let app = app_on(backend, &stub.base_url(), |_| {}).await;
    let session = app.signed_up("patient").await;
    let response = app.chat(&session.access, "Are you there?").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stub.requests().len(), 2);
    assert_charged_once(&app, &session, "Are you there?", "Patience pays.").await;
}

#[apply(on_every_backend)]
async fn an_upstream_error_or_unreadable_answer_is_a_bad_gateway_and_costs_nothing(
    backend: Backend,
) {
    let stub = StubUpstream::start().await;
    stub.push(Reply::error(
        500,
        &format!("internal trouble, key {API_KEY}"),
    ));
    stub.push(Reply::malformed());
    let app = app_on(backend, &stub.base_url(), |_| {}).await;
    let session = app.signed_up("unlucky").await;
    for _ in 0..2 {
        let body = assert_problem(
            app.chat(&session.access, "hello?").await,
            StatusCode::BAD_GATEWAY,
            "responder_failed",
        )
        .await;
        let text = body.to_string();
        assert!(
            !text.contains("internal trouble") && !text.contains(API_KEY),
            "the upstream's words stay in the log: {text}"
        );
    }
    assert_eq!(stub.requests().len(), 2, "neither is retried");
    app.assert_uncharged(&session).await;
}

#[apply(on_every_backend)]
async fn an_unreachable_upstream_is_a_bad_gateway_and_costs_nothing(backend: Backend) {
    let app = app_on(backend, &refused_base_url(), |_| {}).await;
    let session = app.signed_up("stranded").await;
    assert_problem(
        app.chat(&session.access, "anyone?").await,
        StatusCode::BAD_GATEWAY,
        "responder_failed",
    )
    .await;
    app.assert_uncharged(&session).await;
}

#[apply(on_every_backend)]
async fn a_hanging_upstream_times_out_costs_nothing_and_is_hung_up_on(backend: Backend) {
    let stub = StubUpstream::start().await;
    stub.set_fallback(Reply::Hang);
    let app = app_on(backend, &stub.base_url(), |s| s.responder.timeout_secs = 1).await;
    let session = app.signed_up("waiting").await;
    let started = std::time::Instant::now();
    assert_problem(
        app.chat(&session.access, "anyone?").await,
        StatusCode::GATEWAY_TIMEOUT,
        "responder_timeout",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::timeout(Duration::from_secs(10), stub.wait_for_disconnects(1))
        .await
        .expect("the upstream request is cancelled");
    app.assert_uncharged(&session).await;
}

#[apply(on_every_backend)]
async fn a_saturated_responder_is_busy_and_the_refused_chat_costs_nothing(backend: Backend) {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    stub.push(Reply::completion("Worth the wait.", "stub-model", 1, 3).after(&gate));
    let app = app_on(backend, &stub.base_url(), |s| {
        s.responder.max_concurrency = 1
    })
    .await;
    let first = app.signed_up("first").await;
    let second = app.signed_up("second").await;
    let held = tokio::spawn({
        let (client, url, access) = (
            app.client.clone(),
            app.url("/chatView/"),
            first.access.clone(),
        );
        async move {
            client
                .post(url)
                .header("Authorization", format!("Token {access}"))
                .json(&json!({"message": "take your time"}))
                .send()
                .await
                .unwrap()
        }
    });
    stub.wait_for_requests(1).await;
    let refused = app.chat(&second.access, "me too").await;
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "responder_busy").await;
    assert_eq!(
        stub.requests().len(),
        1,
        "the refused chat never reached the model"
    );
    gate.open();
    assert_eq!(held.await.unwrap().status(), StatusCode::OK);
    app.assert_uncharged(&second).await;
    assert_charged_once(&app, &first, "take your time", "Worth the wait.").await;
}

/// The real binary at `debug` level, its log captured from standard error: the key shows
/// nowhere, though the HTTP client's own debug lines are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_appears_in_no_log_line_even_at_debug_level() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::error(503, "warming up").with_header("Retry-After", "0"));
    stub.push(Reply::completion("logged", "stub-model", 1, 1));
    stub.push(Reply::error(
        401,
        &format!("Incorrect API key provided: {API_KEY}"),
    ));
    let db = TestDatabase::create(Backend::Sqlite);
    let workdir = tempfile::tempdir().unwrap();
    let log_path = workdir.path().join("chat-api.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let base_url = stub.base_url();
    let server = ServerProcess::start_logging_to(
        &db.url,
        workdir.path(),
        &[
            ("CHAT_API__LOG__LEVEL", "debug"),
            ("CHAT_API__RESPONDER__KIND", "openai"),
            ("CHAT_API__RESPONDER__BASE_URL", &base_url),
            ("CHAT_API__RESPONDER__MODEL", "stub-model"),
            ("CHAT_API__RESPONDER__API_KEY", API_KEY),
        ],
        Stdio::from(log),
    )
    .await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value, access: Option<String>| {
        let mut request = client.post(format!("{}{path}", server.address)).json(&body);
        if let Some(access) = access {
            request = request.header("Authorization", format!("Token {access}"));
        }
        request.send()
    };
    let credentials = json!({"username": "logged", "password": "password123"});
    post("/register/", credentials.clone(), None).await.unwrap();
    let login: Value = post("/login/", credentials, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap().to_owned();
    let chat = |message: &str| {
        post(
            "/chatView/",
            json!({"message": message}),
            Some(access.clone()),
        )
    };
    assert_eq!(chat("first").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        chat("second").await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(stub.requests().len(), 3);
    server.kill();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("DEBUG"), "the log is at debug level:\n{log}");
    assert!(
        log.contains("reqwest::connect") && log.contains("hyper_util"),
        "the HTTP client's own debug lines are captured:\n{log}"
    );
    assert!(log.contains("retrying the upstream request"), "{log}");
    assert!(
        log.contains("401"),
        "the upstream failure is logged:\n{log}"
    );
    for (number, line) in log.lines().enumerate() {
        assert!(!line.contains(API_KEY), "line {}: {line}", number + 1);
        assert!(!line.contains("sk-upstream"), "line {}: {line}", number + 1);
    }
}
