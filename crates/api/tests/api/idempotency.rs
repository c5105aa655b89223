//! Invariant 5: a retried chat with the same `Idempotency-Key` is charged once and answered alike.

use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use ports::Responder;
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};
use tokio::sync::Notify;

use crate::helpers::*;

/// A model with some latency, so concurrent duplicates overlap with the first request.
fn slow_responder() -> Arc<dyn Responder> {
    Arc::new(FnResponder(|message| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(format!("slow answer to {message}"))
    }))
}

async fn keyed_chat(app: &TestApp, access: &str, key: &str, message: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/chatView/"))
        .header("Authorization", format!("Token {access}"))
        .header("Idempotency-Key", key)
        .json(&json!({"message": message}))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[apply(on_every_backend)]
async fn a_sequential_retry_replays_the_answer_without_charging(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("retrier").await;
    let first = keyed_chat(&app, &session.access, "key-1", "Hello").await;
    let second = keyed_chat(&app, &session.access, "key-1", "Hello").await;
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(first, second, "identical status and body");
    assert_eq!(app.balance(&session.access).await, 3900);
    let other = keyed_chat(&app, &session.access, "key-2", "Hello").await;
    assert_eq!(other.0, StatusCode::OK);
    assert_eq!(
        app.balance(&session.access).await,
        3800,
        "another key is another chat"
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn concurrent_duplicates_wait_for_the_first_and_share_its_answer(backend: Backend) {
    let overrides = Overrides::responder(slow_responder());
    let app = Arc::new(spawn_app_with(backend, |_| {}, overrides).await);
    let session = app.signed_up("impatient").await;
    let requests = (0..=application::send_chat::MAX_WAITERS_PER_KEY).map(|_| {
        let (app, access) = (app.clone(), session.access.clone());
        tokio::spawn(async move { keyed_chat(&app, &access, "same-key", "Hello").await })
    });
    let answers: Vec<(StatusCode, Value)> = join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        answers.iter().all(|answer| answer == &answers[0]),
        "{answers:?}"
    );
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(app.balance(&session.access).await, 3900);
    assert_eq!(app.completed_chats(&session.access).await, 1);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_key_reused_with_another_message_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("reuser").await;
    assert_eq!(
        keyed_chat(&app, &session.access, "k", "first").await.0,
        StatusCode::OK
    );
    let (status, body) = keyed_chat(&app, &session.access, "k", "second").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    assert_eq!(app.balance(&session.access).await, 3900);
}

#[apply(on_every_backend)]
async fn keys_belong_to_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    let (_, alices) = keyed_chat(&app, &alice.access, "shared", "Hello").await;
    let (status, bobs) = keyed_chat(&app, &bob.access, "shared", "Hello").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(alices["user"], bobs["user"], "bob never sees alice's chat");
    assert_eq!(app.balance(&bob.access).await, 3900);
}

#[apply(on_every_backend)]
async fn waiters_on_a_key_are_bounded_and_hold_no_database_connection(backend: Backend) {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let gate = (started.clone(), release.clone());
    let responder = FnResponder(move |message| {
        let (started, release) = gate.clone();
        async move {
            started.notify_one();
            release.notified().await;
            Ok(format!("gated answer to {message}"))
        }
    });
    let overrides = Overrides::responder(Arc::new(responder));
    // Fewer pooled connections than waiters: a waiter that kept one would starve the rest.
    let app =
        Arc::new(spawn_app_with(backend, |s| s.database.max_connections = 2, overrides).await);
    let session = app.signed_up("hammering").await;
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let send = |done: tokio::sync::mpsc::UnboundedSender<(StatusCode, Value)>| {
        let (app, access) = (app.clone(), session.access.clone());
        tokio::spawn(async move {
            let answer = keyed_chat(&app, &access, "hot-key", "Hello").await;
            done.send(answer).unwrap();
        })
    };
    send(done.clone());
    started.notified().await;
    let waiters = application::send_chat::MAX_WAITERS_PER_KEY;
    let refused = 11;
    for _ in 0..waiters + refused {
        send(done.clone());
    }
    for _ in 0..refused {
        // Refused at once, not after waiting out the first request's deadline.
        let (status, body) = tokio::time::timeout(Duration::from_secs(20), answers.recv())
            .await
            .expect("refused without waiting")
            .unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("idempotency_key_in_progress")),
            "{body}"
        );
    }
    assert_eq!(
        app.balance(&session.access).await,
        3900,
        "the pool serves others while the waiters wait"
    );
    release.notify_one();
    let mut served = Vec::new();
    for _ in 0..=waiters {
        served.push(answers.recv().await.unwrap());
    }
    assert_eq!(served[0].0, StatusCode::OK);
    assert!(
        served.iter().all(|answer| answer == &served[0]),
        "{served:?}"
    );
    assert_eq!(app.balance(&session.access).await, 3900, "charged once");
    app.assert_ledger_consistent().await;
}
