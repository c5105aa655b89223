//! Streamed answers from the `openai` responder, against a stub upstream on loopback: pieces reach
//! the client while the upstream is still writing, an upstream that breaks mid-answer costs
//! nothing, and a client that leaves closes the upstream connection.

use std::time::Duration;

use api::settings::ResponderKind;
use domain::{ChatStatus, Tokens};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;
use test_support::{
    Backend, on_every_backend,
    stub_upstream::{Gate, Reply, SseStep, StubUpstream, stream_steps},
};

use crate::{
    helpers::*,
    sse::{Events, delta_text},
};

/// A service answered by the `openai` adapter at `stub`, configured further by `configure`.
async fn app_on(
    backend: Backend,
    stub: &StubUpstream,
    configure: impl FnOnce(&mut api::Settings),
) -> TestApp {
    let base_url = stub.base_url();
    spawn_app_with(
        backend,
        |settings| {
            settings.responder.kind = ResponderKind::OpenAi;
            settings.responder.base_url = Some(base_url);
            settings.responder.model = Some("stub-model".into());
            configure(settings);
        },
        Overrides::default(),
    )
    .await
}

/// An upstream stream of `"Hel"`, `"lo"` (and `usage`) that holds everything after `"Hel"` behind
/// `gate`.
fn held_after_the_first_piece(gate: &Gate, usage: Option<(u64, u64)>) -> Reply {
    let mut steps = stream_steps(&["Hel", "lo"], "stub-model-v2", usage);
    steps.insert(2, SseStep::Wait(gate.clone()));
    Reply::Sse(steps)
}

/// Per-token pricing: the first delta reaches the client while the upstream still holds its last
/// chunks; `done` is what was stored, charged from the upstream's usage, the rest refunded.
#[apply(on_every_backend)]
async fn pieces_reach_the_client_before_the_upstream_has_finished(backend: Backend) {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    stub.push(held_after_the_first_piece(&gate, Some((12, 5))));
    let app = app_on(backend, &stub, |settings| {
        per_token_pricing(settings);
        settings.responder.max_tokens = 100;
    })
    .await;
    let session = app.signed_up("streamer").await;
    let mut events = Events::new(app.stream_chat(&session.access, "Say hello").await);
    assert_eq!(
        delta_text(&events.next().await.unwrap()),
        "Hel",
        "read while the upstream holds the rest"
    );
    let sent = stub.requests();
    assert_eq!(sent[0].body["stream"], true);
    assert_eq!(sent[0].body["stream_options"]["include_usage"], true);
    gate.open();
    assert_eq!(delta_text(&events.next().await.unwrap()), "lo");
    let done = events.next().await.unwrap();
    assert_eq!(done.name, "done");
    assert!(events.next().await.is_none());

    let stored = app.chats_of(&session.access).await;
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    assert_eq!(
        (
            stored.status,
            stored.response.as_str(),
            stored.tokens_charged
        ),
        (ChatStatus::Completed, "Hello", Tokens::new(12 + 5))
    );
    assert_eq!(
        done.data,
        json!({
            "user": user_id_of(&session.access),
            "message": "Say hello",
            "response": "Hello",
            "timestamp": stored.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "tokens_charged": 17,
            "balance": 4000 - 17,
        })
    );
    assert_eq!(app.balance(&session.access).await, 4000 - 17);
    app.assert_ledger_consistent().await;
}

/// The upstream cuts the connection after the first piece: an `error` event, nothing stored,
/// nothing charged.
#[apply(on_every_backend)]
async fn an_upstream_breaking_mid_answer_ends_the_stream_with_an_error_event_uncharged(
    backend: Backend,
) {
    let stub = StubUpstream::start().await;
    let mut steps = stream_steps(&["Hel", "lo"], "stub-model-v2", None);
    steps.truncate(2);
    steps.push(SseStep::Cut);
    stub.push(Reply::Sse(steps));
    let app = app_on(backend, &stub, |_| {}).await;
    let session = app.signed_up("broken").await;
    let events = Events::new(app.stream_chat(&session.access, "Say hello").await)
        .rest()
        .await;
    assert_eq!(delta_text(&events[0]), "Hel");
    let error = events.last().unwrap();
    assert_eq!(error.name, "error");
    assert_eq!(
        (&error.data["status"], &error.data["code"]),
        (&json!(502), &json!("responder_failed"))
    );
    app.assert_uncharged(&session).await;
}

/// The client reads one piece and leaves: the upstream connection is closed (the stub sees it)
/// and the exchange is stored as interrupted, free under flat pricing.
#[apply(on_every_backend)]
async fn a_client_leaving_mid_answer_closes_the_upstream_connection(backend: Backend) {
    let stub = StubUpstream::start().await;
    let never = Gate::new();
    stub.push(held_after_the_first_piece(&never, None));
    let app = app_on(backend, &stub, |_| {}).await;
    let session = app.signed_up("leaver").await;
    let mut events = Events::new(app.stream_chat(&session.access, "Say hello").await);
    assert_eq!(delta_text(&events.next().await.unwrap()), "Hel");
    drop(events);
    tokio::time::timeout(Duration::from_secs(2), stub.wait_for_disconnects(1))
        .await
        .expect("the upstream request is cancelled within 2 s");
    let stored = eventually(
        Duration::from_secs(2),
        "the exchange being stored",
        || async { app.chats_of(&session.access).await.pop() },
    )
    .await;
    assert_eq!(
        (
            stored.status,
            stored.response.as_str(),
            stored.tokens_charged
        ),
        (ChatStatus::Interrupted, "Hel", Tokens::ZERO)
    );
    assert_eq!(app.balance(&session.access).await, 4000);
    app.assert_ledger_consistent().await;
}

/// An upstream that refuses before answering is the ordinary problem response, not a stream.
#[apply(on_every_backend)]
async fn an_upstream_refusing_at_once_is_an_ordinary_error_response(backend: Backend) {
    let stub = StubUpstream::start().await;
    stub.set_fallback(Reply::error(500, "model exploded"));
    let app = app_on(backend, &stub, |settings| {
        settings.responder.max_retries = 0
    })
    .await;
    let session = app.signed_up("refused").await;
    let response = app.stream_chat(&session.access, "Say hello").await;
    let body = assert_problem(response, StatusCode::BAD_GATEWAY, "responder_failed").await;
    assert!(!body.to_string().contains("exploded"));
    app.assert_uncharged(&session).await;
}
