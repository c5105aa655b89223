//! `ledger.pricing = "per_token"`: the most a chat may cost is reserved up front (402 if the
//! balance cannot cover it), the actual price settled from the model's usage and the rest refunded
//! in the same transaction; the debit records the model and the token counts.

use adapters::responder::DummyResponder;
use domain::{LedgerEntryKind, TokenCounts, UserId};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::Value;
use test_support::{Backend, on_every_backend};

use crate::{helpers::*, sse::Events};

/// One token per token, answers of at most 100 tokens, sign-up grant `grant`.
async fn per_token_app(backend: Backend, grant: i64) -> TestApp {
    spawn_app_with(
        backend,
        |settings| {
            settings.ledger.signup_grant = grant;
            per_token_pricing(settings);
            settings.responder.max_tokens = 100;
        },
        Overrides::default(),
    )
    .await
}

/// What the reservation for `message` is: its UTF-8 bytes, 4 tokens of framing, 3 of priming,
/// and a full 100-token answer.
fn reservation(message: &str) -> i64 {
    message.len() as i64 + 4 + 3 + 100
}

/// The dummy's usage for `message`: words of the prompt and of its answer.
fn dummy_usage(message: &str) -> TokenCounts {
    let words = |text: &str| text.split_whitespace().count() as u64;
    TokenCounts {
        prompt: words(message),
        completion: words(&DummyResponder::answer(message)),
    }
}

#[apply(on_every_backend)]
async fn the_maximum_is_reserved_the_usage_settled_and_the_rest_refunded(backend: Backend) {
    let app = per_token_app(backend, 4000).await;
    let session = app.signed_up("metered").await;
    let message = "Hello there";
    let usage = dummy_usage(message);
    let price = (usage.prompt + usage.completion) as i64;

    let chat: Value = app
        .chat(&session.access, message)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chat["tokens_charged"], price);
    assert_eq!(app.balance(&session.access).await, 4000 - price);

    let ledger = app
        .storage()
        .await
        .user_ledger(UserId(user_id_of(&session.access)), 10)
        .await
        .unwrap();
    let lines: Vec<_> = ledger
        .iter()
        .map(|line| (line.kind, line.amount.get(), line.usage.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (LedgerEntryKind::Refund, reservation(message) - price, None),
            (
                LedgerEntryKind::ChatDebit,
                -reservation(message),
                Some(("dummy".to_owned(), usage))
            ),
            (LedgerEntryKind::SignupGrant, 4000, None),
        ]
    );
    assert_eq!(ledger[0].reason, "unused part of the reservation");

    let streamed = Events::new(app.stream_chat(&session.access, message).await)
        .rest()
        .await;
    let done = &streamed.last().unwrap().data;
    assert_eq!(done["tokens_charged"], price);
    assert_eq!(done["balance"], 4000 - 2 * price);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_chat_whose_maximum_cannot_be_reserved_is_refused_uncharged(backend: Backend) {
    let app = per_token_app(backend, 100).await;
    let session = app.signed_up("short").await;
    let message = "Hello there";
    assert!(
        (dummy_usage(message).prompt + dummy_usage(message).completion) < 100,
        "the chat would cost less than the balance, but its maximum is more"
    );
    let body = assert_problem(
        app.chat(&session.access, message).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_tokens",
    )
    .await;
    assert_eq!(
        body["detail"],
        format!(
            "Insufficient tokens: {} needed, 100 left",
            reservation(message)
        )
    );
    assert_problem(
        app.stream_chat(&session.access, message).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_tokens",
    )
    .await;
    assert_eq!(app.balance(&session.access).await, 100);
    assert!(app.chats_of(&session.access).await.is_empty());
    app.assert_ledger_consistent().await;
}
