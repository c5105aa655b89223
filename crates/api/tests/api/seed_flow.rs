//! The seed contract end to end: what a client of the original Django service does.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

#[apply(on_every_backend)]
async fn the_full_seed_flow_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.register("john_doe", "password123").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "You've been registered"})
    );

    let response = app.login("john_doe", "password123").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let login: Value = response.json().await.unwrap();
    assert_eq!(login["user"], "john_doe");
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();

    for i in 0..3 {
        let message = format!("Hello, how are you? #{i}");
        let response = app.chat(&access, &message).await;
        assert_eq!(response.status(), StatusCode::OK);
        let chat: Value = response.json().await.unwrap();
        assert_eq!(chat["user"], user_id_of(&access));
        assert_eq!(chat["message"], message);
        assert!(chat["response"].as_str().unwrap().contains(&message));
        assert_eq!(chat["tokens_charged"], 100, "an added field, none removed");
        let timestamp = chat["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
    }
    assert_eq!(app.balance(&access).await, 3700);

    let response = app
        .post("/token/refresh/", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(
        app.chat(new_access, "with the new token").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.balance(new_access).await, 3600);
    // simplejwt's default: the refresh token keeps working.
    let again = app
        .post("/token/refresh/", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn paths_work_with_and_without_trailing_slash_and_form_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/register"))
        .form(&[("username", "formuser"), ("password", "password123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "formuser"), ("password", "password123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let access = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .client
        .post(app.url("/chatView"))
        .bearer_auth(&access)
        .form(&[("message", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "Bearer is accepted as well as Token"
    );
    let response = app
        .client
        .get(app.url("/token_balance"))
        .header("Authorization", format!("token {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["tokens"], 3900);
}

#[apply(on_every_backend)]
async fn the_forty_first_chat_is_refused_and_the_balance_stays_zero(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("spender").await;
    for i in 0..40 {
        assert_eq!(
            app.chat(&session.access, &format!("message {i}"))
                .await
                .status(),
            StatusCode::OK,
            "chat {i}"
        );
    }
    assert_eq!(app.balance(&session.access).await, 0);
    let body = assert_problem(
        app.chat(&session.access, "one more").await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_tokens",
    )
    .await;
    assert_eq!(body["detail"], "Insufficient tokens: 100 needed, 0 left");
    assert_eq!(app.balance(&session.access).await, 0);
    let storage = app.storage().await;
    assert_eq!(
        storage
            .completed_chat_count(domain::UserId(user_id_of(&session.access)))
            .await
            .unwrap(),
        40
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn usernames_are_taken_case_insensitively(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.register("Alice", "password123").await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        app.register("alice", "password456").await,
        StatusCode::BAD_REQUEST,
        "username_taken",
    )
    .await;
    let login: Value = app
        .login("ALICE", "password123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        login["user"], "Alice",
        "login is case-insensitive and answers the stored name"
    );
}

#[apply(on_every_backend)]
async fn wrong_password_and_unknown_user_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("bob").await;
    let wrong = assert_problem(
        app.login("bob", "wrong-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody", "wrong-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let without_request_id = |mut body: Value| {
        body.as_object_mut().unwrap().remove("request_id");
        body
    };
    assert_eq!(without_request_id(wrong), without_request_id(unknown));
}
