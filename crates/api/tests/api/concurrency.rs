//! Invariant 2: with a balance of B, exactly floor(B / price) of N concurrent chats succeed,
//! streamed or not; under per-token pricing a burst never overspends and every chat's charge
//! matches its ledger entries.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::{helpers::*, sse::Events};

async fn fire_concurrent_chats(app: &TestApp, username: &str, requests: usize) {
    let session = app.signed_up(username).await;
    let chats = (0..requests).map(|i| {
        let request = app.chat_request(
            &session.access,
            json!({"message": format!("concurrent {i}")}),
        );
        tokio::spawn(async move { request.send().await.unwrap().status() })
    });
    let statuses = join_statuses(chats).await;
    let (ok, refused) = answered_and_refused(&statuses);
    assert_eq!((ok, refused), (40, requests - 40), "{statuses:?}");
    assert_eq!(app.balance(&session.access).await, 0);
    assert_eq!(app.completed_chats(&session.access).await, 40);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn sixty_concurrent_chats_of_a_new_user_buy_exactly_forty(backend: Backend) {
    let app = spawn_app(backend).await;
    fire_concurrent_chats(&app, "sixty", 60).await;
}

#[apply(on_every_backend)]
async fn two_hundred_concurrent_chats_repeated_never_overspend(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..3 {
        fire_concurrent_chats(&app, &format!("round{round}"), 200).await;
    }
}

/// Fires `requests` concurrent streamed chats for one new user; returns the `done` records of
/// those answered (every other one must be a 402 problem).
async fn fire_concurrent_streams(app: &TestApp, session: &Session, requests: usize) -> Vec<Value> {
    let chats = (0..requests).map(|i| {
        let body = json!({"message": format!("stream {i}"), "stream": true});
        let request = app.chat_request(&session.access, body);
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            if response.status() == StatusCode::PAYMENT_REQUIRED {
                assert_problem(
                    response,
                    StatusCode::PAYMENT_REQUIRED,
                    "insufficient_tokens",
                )
                .await;
                return None;
            }
            let events = Events::new(response).rest().await;
            let done = events.last().unwrap();
            assert_eq!(done.name, "done", "{events:?}");
            Some(done.data.clone())
        })
    });
    futures_util::future::join_all(chats)
        .await
        .into_iter()
        .filter_map(Result::unwrap)
        .collect()
}

#[apply(on_every_backend)]
async fn two_hundred_concurrent_streamed_chats_buy_exactly_forty(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("streams").await;
    let answered = fire_concurrent_streams(&app, &session, 200).await;
    assert_eq!(answered.len(), 40);
    assert!(answered.iter().all(|done| done["tokens_charged"] == 100));
    assert_eq!(app.balance(&session.access).await, 0);
    assert_eq!(app.completed_chats(&session.access).await, 40);
    app.assert_ledger_consistent().await;
}

/// Per-token pricing reserves up to 118 tokens a chat and settles about 20: the burst is limited
/// by reservations, not by what chats end up costing, and never overspends.
#[apply(on_every_backend)]
async fn per_token_bursts_never_overspend_and_every_chat_matches_its_entries(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| {
            per_token_pricing(settings);
            settings.responder.max_tokens = 100;
        },
        Overrides::default(),
    )
    .await;
    let session = app.signed_up("burst").await;
    let answered = fire_concurrent_streams(&app, &session, 200).await;
    assert!(
        answered.len() >= 4000 / 118,
        "at least what the balance covers at the full reservation: {}",
        answered.len()
    );
    let charged: i64 = answered
        .iter()
        .map(|done| done["tokens_charged"].as_i64().unwrap())
        .sum();
    let balance = app.balance(&session.access).await;
    assert!(balance >= 0);
    assert_eq!(
        balance,
        4000 - charged,
        "the balance paid exactly the done records"
    );
    let stored = app.chats_of(&session.access).await;
    assert_eq!(stored.len(), answered.len());
    for done in &answered {
        let chat = stored
            .iter()
            .find(|chat| chat.message == done["message"])
            .unwrap();
        assert_eq!(
            chat.tokens_charged.get(),
            done["tokens_charged"].as_i64().unwrap()
        );
    }
    app.assert_ledger_consistent().await;
    let report = app.services().await.audit_ledger.execute().await.unwrap();
    assert!(report.is_consistent(), "{:?}", report.violations);
    assert_eq!(report.chats, answered.len());
}
