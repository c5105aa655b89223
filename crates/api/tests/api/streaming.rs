//! `"stream": true`: Server-Sent Events while the model writes, settlement by the chat's own task,
//! and a client that leaves mid-answer (noticed within a second or two, the model cancelled, the
//! exchange stored as interrupted and charged by the pricing policy).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use adapters::responder::DummyResponder;
use domain::{ChatStatus, Tokens};
use futures_util::{StreamExt, stream};
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, StreamPiece,
};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Semaphore,
};

use crate::{
    helpers::*,
    sse::{Events, Item, delta_text},
};

/// How soon a departed client must be noticed and its exchange stored.
const NOTICED_WITHIN: Duration = Duration::from_secs(2);

/// A model that writes `"first "` at once, then waits until the test opens its gate, then sends
/// `after_gate`. Records when its stream is dropped (the upstream request cancelled).
struct GatedResponder {
    gate: Arc<Semaphore>,
    after_gate: Vec<Result<StreamPiece, ResponderError>>,
    dropped: Arc<AtomicBool>,
}

impl GatedResponder {
    fn new(after_gate: Vec<Result<StreamPiece, ResponderError>>) -> Arc<Self> {
        Arc::new(Self {
            gate: Arc::new(Semaphore::new(0)),
            after_gate,
            dropped: Arc::new(AtomicBool::new(false)),
        })
    }

    fn open(&self) {
        self.gate.add_permits(1);
    }

    fn dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Responder for GatedResponder {
    fn model(&self) -> String {
        "gated".into()
    }

    async fn complete(&self, _: CompletionRequest) -> Result<Completion, ResponderError> {
        Err(ResponderError::Failed("only streams".into()))
    }

    async fn stream(&self, _: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let gate = self.gate.clone();
        let after_gate = self.after_gate.clone();
        let alive = DropFlag(self.dropped.clone());
        let opened = stream::once(async move {
            let _permit = gate.acquire().await;
        })
        .flat_map(move |()| stream::iter(after_gate.clone()));
        let pieces = stream::iter([Ok(StreamPiece::Delta("first ".into()))])
            .chain(opened)
            .map(move |piece| {
                let _alive = &alive;
                piece
            });
        Ok(Box::pin(pieces))
    }
}

fn finished() -> Result<StreamPiece, ResponderError> {
    Ok(StreamPiece::Finished {
        model: "gated-1".into(),
        usage: None,
    })
}

async fn app_with(backend: Backend, responder: Arc<dyn Responder>) -> TestApp {
    spawn_app_with(backend, |_| {}, Overrides::responder(responder)).await
}

/// The dummy answering word by word, 200 ms per word, under the pricing `configure` sets.
async fn slow_dummy_app(backend: Backend, configure: impl FnOnce(&mut api::Settings)) -> TestApp {
    spawn_app_with(
        backend,
        |settings| {
            settings.responder.dummy_delay_ms = 200;
            configure(settings);
        },
        Overrides::default(),
    )
    .await
}

/// The user's only stored chat, once it exists (polled, within [`NOTICED_WITHIN`]).
async fn the_stored_chat(app: &TestApp, access: &str) -> ports::ChatRecord {
    eventually(NOTICED_WITHIN, "the exchange being stored", || async {
        app.chats_of(access).await.pop()
    })
    .await
}

#[apply(on_every_backend)]
async fn the_answer_streams_while_the_model_writes_and_done_is_what_was_stored(backend: Backend) {
    let model = GatedResponder::new(vec![Ok(StreamPiece::Delta("second".into())), finished()]);
    let app = app_with(backend, model.clone()).await;
    let session = app.signed_up("streamer").await;
    let response = app.stream_chat(&session.access, "Tell me").await;
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let mut events = Events::new(response);
    let first = events.next().await.unwrap();
    assert_eq!(delta_text(&first), "first ", "read while the model is held");
    model.open();
    let second = events.next().await.unwrap();
    let done = events.next().await.unwrap();
    assert_eq!(done.name, "done");
    assert!(events.next().await.is_none(), "the body ends after done");

    let joined = format!("{}{}", delta_text(&first), delta_text(&second));
    let stored = app.chats_of(&session.access).await;
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    assert_eq!(
        (
            stored.status,
            stored.tokens_charged,
            stored.response.as_str()
        ),
        (ChatStatus::Completed, Tokens::new(100), joined.as_str())
    );
    assert_eq!(
        done.data,
        json!({
            "user": user_id_of(&session.access),
            "message": "Tell me",
            "response": joined,
            "timestamp": stored.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "tokens_charged": 100,
            "balance": 3900,
        })
    );
    assert_eq!(app.balance(&session.access).await, 3900);
    assert!(model.dropped());
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn the_dummy_streams_its_answer_word_by_word(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("worder").await;
    let events = Events::new(app.stream_chat(&session.access, "hi there").await)
        .rest()
        .await;
    let (done, deltas) = events.split_last().unwrap();
    let text: String = deltas.iter().map(delta_text).collect();
    assert_eq!(text, DummyResponder::answer("hi there"));
    assert_eq!(deltas.len(), text.split(' ').count());
    assert_eq!(done.data["response"], text);
    let plain: Value = app
        .chat(&session.access, "hi there")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["response"], text, "streamed or not, the same answer");
    assert_eq!(plain["tokens_charged"], 100);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_model_failing_mid_answer_ends_the_stream_with_an_error_event_uncharged(
    backend: Backend,
) {
    let model = GatedResponder::new(vec![Err(ResponderError::Failed("upstream 500".into()))]);
    let app = app_with(backend, model.clone()).await;
    let session = app.signed_up("failing").await;
    let mut events = Events::new(app.stream_chat(&session.access, "hello").await);
    assert_eq!(delta_text(&events.next().await.unwrap()), "first ");
    model.open();
    let error = events.next().await.unwrap();
    assert_eq!(error.name, "error");
    assert_eq!(
        (&error.data["status"], &error.data["code"]),
        (&json!(502), &json!("responder_failed"))
    );
    assert!(
        error.data["detail"]
            .as_str()
            .unwrap()
            .contains("not charged")
    );
    assert!(
        !error.data.to_string().contains("upstream 500"),
        "the upstream's words stay in the log"
    );
    assert!(events.next().await.is_none());
    assert_eq!(app.balance(&session.access).await, 4000);
    assert!(app.chats_of(&session.access).await.is_empty());
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn failures_before_the_stream_begins_are_ordinary_problem_responses(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| settings.ledger.signup_grant = 50,
        Overrides::default(),
    )
    .await;
    let session = app.signed_up("poor").await;
    let poor = app.stream_chat(&session.access, "hello").await;
    let body = assert_problem(poor, StatusCode::PAYMENT_REQUIRED, "insufficient_tokens").await;
    assert_eq!(body["detail"], "Insufficient tokens: 100 needed, 50 left");
    let typo = app
        .post(
            "/chatView/",
            json!({"message": "hello", "stream": "maybe"}),
            Some(&session.access),
        )
        .await;
    let body = assert_problem(typo, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(
        body["errors"]["stream"],
        json!(["Must be a valid boolean."])
    );
    let anonymous = app
        .post("/chatView/", json!({"message": "hi", "stream": true}), None)
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "not_authenticated").await;

    let busy = Arc::new(FnResponder(|_| async {
        Err(ResponderError::Busy {
            retry_after_secs: 3,
        })
    }));
    let app = app_with(backend, busy).await;
    let session = app.signed_up("unlucky").await;
    let response = app.stream_chat(&session.access, "hello").await;
    assert_eq!(response.headers()["retry-after"], "3");
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "responder_busy").await;
    assert_eq!(app.balance(&session.access).await, 4000);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_form_body_may_ask_for_a_stream_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("former").await;
    let response = app
        .client
        .post(app.url("/chatView"))
        .header("Authorization", format!("Token {}", session.access))
        .form(&[("message", "from a form"), ("stream", "1")])
        .send()
        .await
        .unwrap();
    let events = Events::new(response).rest().await;
    assert_eq!(events.last().unwrap().name, "done");
}

/// The dummy writes slowly; the client reads one word and leaves. Flat pricing: stored as
/// interrupted with what was written, free.
#[apply(on_every_backend)]
async fn a_client_leaving_mid_answer_is_noticed_and_the_exchange_stored_interrupted_for_free(
    backend: Backend,
) {
    let app = slow_dummy_app(backend, |_| {}).await;
    let session = app.signed_up("leaver").await;
    let mut events = Events::new(app.stream_chat(&session.access, "tell me a story").await);
    let first = events.next().await.unwrap();
    assert_eq!(delta_text(&first), "You");
    drop(events);

    let stored = the_stored_chat(&app, &session.access).await;
    assert_eq!(stored.status, ChatStatus::Interrupted);
    let full = DummyResponder::answer("tell me a story");
    assert!(
        stored.response.starts_with("You") && stored.response.len() < full.len(),
        "{:?} is a cut-short {full:?}",
        stored.response
    );
    assert_eq!(stored.tokens_charged, Tokens::ZERO);
    assert_eq!(app.balance(&session.access).await, 4000);
    assert_eq!(
        app.completed_chats(&session.access).await,
        0,
        "an interrupted exchange is not a charged chat"
    );
    app.assert_ledger_consistent().await;
}

/// Per-token pricing: an interrupted exchange pays for its prompt and for what was written
/// (approximated at four characters a token, the dummy's usage coming only at the end).
#[apply(on_every_backend)]
async fn per_token_interruptions_pay_for_the_prompt_and_what_was_written(backend: Backend) {
    let app = slow_dummy_app(backend, per_token_pricing).await;
    let session = app.signed_up("metered").await;
    let message = "count my tokens";
    let mut events = Events::new(app.stream_chat(&session.access, message).await);
    events.next().await.unwrap();
    events.next().await.unwrap();
    drop(events);

    let stored = the_stored_chat(&app, &session.access).await;
    assert_eq!(stored.status, ChatStatus::Interrupted);
    let quarter = |text: &str| (text.chars().count() as i64 + 3) / 4;
    let expected = quarter(message) + 4 + 3 + quarter(&stored.response);
    assert_eq!(stored.tokens_charged, Tokens::new(expected));
    assert_eq!(app.balance(&session.access).await, 4000 - expected);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_client_leaving_cancels_the_model_stream(backend: Backend) {
    let model = GatedResponder::new(vec![finished()]);
    let app = app_with(backend, model.clone()).await;
    let session = app.signed_up("canceller").await;
    let mut events = Events::new(app.stream_chat(&session.access, "hold on").await);
    assert_eq!(delta_text(&events.next().await.unwrap()), "first ");
    drop(events);
    eventually(
        NOTICED_WITHIN,
        "the model's stream being dropped",
        || async { model.dropped().then_some(()) },
    )
    .await;
    let stored = the_stored_chat(&app, &session.access).await;
    assert_eq!(
        (stored.status, stored.response.as_str()),
        (ChatStatus::Interrupted, "first ")
    );
    app.assert_ledger_consistent().await;
}

/// A client that shuts down its sending side (a half-close) has left too: the server stops the
/// answer rather than writing on to a socket nobody may read.
#[apply(on_every_backend)]
async fn a_half_closed_connection_ends_the_answer(backend: Backend) {
    let app = slow_dummy_app(backend, |_| {}).await;
    let session = app.signed_up("halfway").await;
    let body = json!({"message": "a long story", "stream": true}).to_string();
    let address = app.address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /chatView/ HTTP/1.1\r\nHost: {address}\r\nAuthorization: Token {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        session.access,
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("event: delta") {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(read > 0, "closed before the first delta");
        received.extend_from_slice(&chunk[..read]);
    }
    socket.shutdown().await.unwrap();

    let stored = the_stored_chat(&app, &session.access).await;
    assert_eq!(stored.status, ChatStatus::Interrupted);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    assert!(
        !String::from_utf8_lossy(&rest).contains("event: done"),
        "the answer was not completed"
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_silent_model_is_covered_by_heartbeats(backend: Backend) {
    let model = GatedResponder::new(vec![finished()]);
    let app = app_with(backend, model.clone()).await;
    let session = app.signed_up("patient").await;
    let mut events = Events::new(app.stream_chat(&session.access, "take your time").await);
    assert_eq!(delta_text(&events.next().await.unwrap()), "first ");
    let started = tokio::time::Instant::now();
    let item = events.next_item().await.unwrap();
    assert_eq!(item, Item::Comment("keep-alive".into()));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    model.open();
    assert_eq!(events.next().await.unwrap().name, "done");
}

#[apply(on_every_backend)]
async fn a_streamed_retry_with_the_same_key_replays_the_answer_uncharged(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("retrier").await;
    let keyed = || {
        app.chat_request(
            &session.access,
            json!({"message": "only once", "stream": true}),
        )
        .header("Idempotency-Key", "stream-once")
        .send()
    };
    let first = Events::new(keyed().await.unwrap()).rest().await;
    let again = Events::new(keyed().await.unwrap()).rest().await;
    let (done, replayed_done) = (first.last().unwrap(), again.last().unwrap());
    assert_eq!(done.name, "done");
    assert_eq!(replayed_done.data["response"], done.data["response"]);
    assert_eq!(replayed_done.data["timestamp"], done.data["timestamp"]);
    assert_eq!(replayed_done.data["balance"], 3900);
    assert_eq!(app.balance(&session.access).await, 3900);
    app.assert_ledger_consistent().await;
}

/// The admin pages tell an interrupted exchange from a completed one, with what each cost, and
/// show the usage a chat debit was charged for.
#[apply(on_every_backend)]
async fn the_admin_pages_show_how_each_exchange_ended_and_what_it_cost(backend: Backend) {
    let app = slow_dummy_app(backend, |_| {}).await;
    let session = app.signed_up("watched").await;
    let mut events = Events::new(app.stream_chat(&session.access, "cut me off").await);
    events.next().await.unwrap();
    drop(events);
    let interrupted = the_stored_chat(&app, &session.access).await;
    let completed = app.chat(&session.access, "let me finish").await;
    assert_eq!(completed.status(), StatusCode::OK);

    let mut browser = crate::admin::Browser::new(&app);
    browser.logged_in_admin("root").await;
    let list = browser.page("/admin/chats/").await;
    assert!(
        list.contains(r#"<td class="status-interrupted">interrupted</td><td class="num">0</td>"#),
        "{list}"
    );
    assert!(
        list.contains(r#"<td class="status-completed">completed</td><td class="num">100</td>"#),
        "{list}"
    );
    let detail = browser
        .page(&format!("/admin/chats/{}/", interrupted.id))
        .await;
    assert!(
        detail.contains(r#"<dd id="status">interrupted (the client left"#),
        "{detail}"
    );
    let user = browser
        .page(&format!("/admin/users/{}/", user_id_of(&session.access)))
        .await;
    assert!(
        user.contains("dummy: "),
        "the debit's usage is shown: {user}"
    );
}
