//! Invariant 2: with a balance of B, exactly floor(B / price) of N concurrent chats succeed.

use rstest::rstest;
use rstest_reuse::apply;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

async fn fire_concurrent_chats(app: &TestApp, username: &str, requests: usize) {
    let session = app.signed_up(username).await;
    let chats = (0..requests).map(|i| {
        let (client, url, access) = (
            app.client.clone(),
            app.url("/chatView/"),
            session.access.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .header("Authorization", format!("Token {access}"))
                .json(&serde_json::json!({"message": format!("concurrent {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses = join_statuses(chats).await;
    let (ok, refused) = answered_and_refused(&statuses);
    assert_eq!((ok, refused), (40, requests - 40), "{statuses:?}");
    assert_eq!(app.balance(&session.access).await, 0);
    let user = domain::UserId(user_id_of(&session.access));
    assert_eq!(app.storage().await.chat_count(user).await.unwrap(), 40);
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
