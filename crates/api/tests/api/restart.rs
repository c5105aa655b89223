//! Restarting the service keeps every user, balance and chat.

use std::sync::Arc;

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::Value;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

#[apply(on_every_backend)]
async fn a_restart_keeps_users_balances_and_chats(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("persistent").await;
    assert_eq!(
        app.chat(&session.access, "remember me").await.status(),
        StatusCode::OK
    );
    let database = Arc::clone(&app.database);
    app.stop().await;

    let app = spawn_on(database, |_| {}, Overrides::default()).await;
    let response = app.login("persistent", "password123").await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.balance(&access).await, 3900);
    assert_eq!(
        app.balance(&session.access).await,
        3900,
        "tokens issued before the restart still work"
    );
    let storage = app.storage().await;
    assert_eq!(
        storage
            .completed_chat_count(domain::UserId(user_id_of(&access)))
            .await
            .unwrap(),
        1
    );
    app.assert_ledger_consistent().await;
}
