//! API keys over real HTTP, on both backends: shown once, stored as a hash, accepted wherever an
//! access token is, refused once revoked, expired or their account deactivated, never able to
//! manage keys, at most 20 live per user, revocable by an admin on the user page.

use domain::UserId;
use ports::{AdminRepository, PasswordHash};
use reqwest::{StatusCode, header};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_support::{Backend, on_every_backend, sql};

use crate::{
    admin::{Browser, csrf_in},
    helpers::*,
};

async fn keys_of(app: &TestApp, access: &str) -> Vec<Value> {
    let response = app.get("/api-keys/", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["results"]
        .as_array()
        .unwrap()
        .clone()
}

#[apply(on_every_backend)]
async fn a_new_key_is_shown_once_and_then_works_wherever_an_access_token_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("programmer").await;
    let response = app
        .create_api_key(
            &session.access,
            json!({"name": " ci ", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("cak_") && key.len() == 47, "{key}");
    assert_eq!(created["prefix"], key[..12]);
    assert_eq!(created["name"], "ci");
    assert!(
        created["expires_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );

    let listed = app
        .get("/api-keys/", &session.access)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !listed.contains(&key[12..]),
        "the list shows no secret: {listed}"
    );
    let keys = keys_of(&app, &session.access).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], created["id"]);
    assert_eq!(keys[0]["last_used_at"], Value::Null);

    for scheme in ["Bearer", "Token"] {
        let response = app
            .client
            .get(app.url("/token_balance/"))
            .header("Authorization", format!("{scheme} {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    assert_eq!(
        app.chat(&key, "Hello with a key").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.balance(&key).await, 3900);
    assert_eq!(app.balance(&session.access).await, 3900, "the same account");
    let used = keys_of(&app, &session.access).await;
    assert!(used[0]["last_used_at"].as_str().is_some(), "{used:?}");
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn keys_are_stored_only_as_their_sha256(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("hashed").await;
    let (_, key) = app.api_key(&session.access).await;
    let stored = sql::strings(
        &app.database.url,
        "SELECT secret_hash || '|' || prefix || '|' || name AS value FROM api_keys",
    );
    let expected: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, vec![format!("{expected}|{}|test", &key[..12])]);
    assert!(!stored[0].contains(&key[12..]));
}

#[apply(on_every_backend)]
async fn revoked_expired_and_deactivated_users_keys_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("owner").await;
    let user = UserId(user_id_of(&session.access));
    let (revoked_id, revoked) = app.api_key(&session.access).await;
    let (expired_id, expired) = app.api_key(&session.access).await;
    let (_, live) = app.api_key(&session.access).await;

    let response = app
        .client
        .delete(app.url(&format!("/api-keys/{revoked_id}/")))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/token_balance/", &revoked).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;

    sql::execute(
        &app.database.url,
        &format!("UPDATE api_keys SET expires_at = '2000-01-01 00:00:00' WHERE id = {expired_id}"),
    );
    assert_problem(
        app.get("/token_balance/", &expired).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;

    assert_eq!(app.balance(&live).await, 4000);
    assert!(app.storage().await.set_active(user, false).await.unwrap());
    assert_problem(
        app.get("/token_balance/", &live).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.chat(&live, "still here?").await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    for garbage in ["cak_", "cak_tooshort", &format!("{live}x")] {
        assert_problem(
            app.get("/token_balance/", garbage).await,
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        )
        .await;
    }
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_password_reset_ends_sessions_but_leaves_keys_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("resetter").await;
    let (_, key) = app.api_key(&session.access).await;
    let user = UserId(user_id_of(&session.access));
    assert!(
        app.storage()
            .await
            .set_password(user, PasswordHash("$2b$04$other".into()))
            .await
            .unwrap()
    );
    assert_problem(
        app.get("/token_balance/", &session.access).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_eq!(app.balance(&key).await, 4000);
}

#[apply(on_every_backend)]
async fn a_key_cannot_create_list_or_revoke_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("leaky").await;
    let (id, key) = app.api_key(&session.access).await;
    assert_problem(
        app.create_api_key(&key, json!({})).await,
        StatusCode::FORBIDDEN,
        "login_required",
    )
    .await;
    assert_problem(
        app.get("/api-keys/", &key).await,
        StatusCode::FORBIDDEN,
        "login_required",
    )
    .await;
    let revoke = app
        .client
        .delete(app.url(&format!("/api-keys/{id}/")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(revoke, StatusCode::FORBIDDEN, "login_required").await;
    assert_eq!(keys_of(&app, &session.access).await.len(), 1);
    assert_eq!(app.balance(&key).await, 4000, "the key itself still works");
}

#[apply(on_every_backend)]
async fn the_twenty_first_live_key_is_refused_until_one_is_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("collector").await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.api_key(&session.access).await.0);
    }
    let body = assert_problem(
        app.create_api_key(&session.access, json!({})).await,
        StatusCode::CONFLICT,
        "too_many_api_keys",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("20"), "{body}");
    assert_eq!(keys_of(&app, &session.access).await.len(), 20);
    let revoke = app
        .client
        .delete(app.url(&format!("/api-keys/{}/", ids[0])))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.create_api_key(&session.access, json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[apply(on_every_backend)]
async fn another_users_key_cannot_be_revoked_and_bad_requests_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice").await;
    let mallory = app.signed_up("mallory").await;
    let (id, key) = app.api_key(&alice.access).await;
    for path in [
        format!("/api-keys/{id}/"),
        "/api-keys/abc/".into(),
        "/api-keys/999999/".into(),
    ] {
        let response = app
            .client
            .delete(app.url(&path))
            .bearer_auth(&mallory.access)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    for bad in [
        json!({"name": "x".repeat(101)}),
        json!({"name": 5}),
        json!({"name": "a\u{0}b"}),
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 3651}),
        json!({"expires_in_days": 1.5}),
        json!({"expires_in_days": "soon"}),
    ] {
        let response = app.create_api_key(&alice.access, bad.clone()).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let anonymous = app
        .client
        .post(app.url("/api-keys/"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    assert_eq!(keys_of(&app, &alice.access).await.len(), 1);
    assert_eq!(app.balance(&key).await, 4000);
}

#[apply(on_every_backend)]
async fn an_admin_sees_and_revokes_a_users_keys_on_the_user_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("customer").await;
    let (id, key) = app.api_key(&session.access).await;
    let user = user_id_of(&session.access);
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let page = browser.page(&format!("/admin/users/{user}/")).await;
    assert!(page.contains(&key[..12]), "the prefix is shown");
    assert!(!page.contains(&key[12..]), "the secret is not");
    let response = browser
        .post(
            &format!("/admin/users/{user}/api-keys/{id}/revoke/"),
            &[("csrf_token", &csrf_in(&page))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_problem(
        app.get("/token_balance/", &key).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    let page = browser.page(location).await;
    assert!(page.contains("API key revoked") && page.contains("No API keys."));
    let again = browser
        .post(
            &format!("/admin/users/{user}/api-keys/{id}/revoke/"),
            &[("csrf_token", &csrf_in(&page))],
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}
