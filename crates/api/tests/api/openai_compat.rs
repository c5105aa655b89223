//! The OpenAI-compatible face (`/v1/`) over real HTTP, on both backends: OpenAI's shapes for
//! models, completions and errors, billed through the same ledger as `/chatView/`.

use reqwest::{Response, StatusCode, header};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::Value;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

/// Asserts an OpenAI-shaped error with `status` and `code`; returns its body.
pub async fn assert_openai_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "OpenAI's errors are plain JSON"
    );
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["type"].as_str().is_some(), "{body}");
    assert!(
        body.get("status").is_none() && body.get("detail").is_none(),
        "{body}"
    );
    body
}

#[apply(on_every_backend)]
async fn models_lists_the_configured_responders_model_for_keys_and_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("modeller").await;
    let (_, key) = app.api_key(&session.access).await;
    for credential in [&key, &session.access] {
        let response = app.get("/v1/models", credential).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["object"], "list");
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        assert_eq!(body["data"][0]["id"], "dummy");
        assert_eq!(body["data"][0]["object"], "model");
        assert!(body["data"][0]["created"].as_i64().is_some());
    }
}

#[apply(on_every_backend)]
async fn errors_under_v1_take_openais_shape_with_the_same_statuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("erring").await;
    let anonymous = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(
        anonymous.headers()[header::WWW_AUTHENTICATE],
        "Token realm=\"api\""
    );
    assert_openai_error(anonymous, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    assert_openai_error(
        app.get("/v1/models", "cak_unknown").await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_openai_error(
        app.get("/v1/nothing-here", &session.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let wrong_method = app
        .client
        .delete(app.url("/v1/models"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_openai_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_problem(
        app.get("/chats/?page=0", &session.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
