//! `POST /v1/chat/completions` over real HTTP, on both backends: OpenAI's request and answer
//! shapes, whole and streamed, on the same charge protocol as `/chatView/` (pricing, ledger,
//! stored history, `Idempotency-Key`), with the client's own context.

use adapters::responder::DummyResponder;
use futures_util::future::join_all;
use ports::Role;
use reqwest::{RequestBuilder, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::{
    helpers::*,
    kit::recording_app,
    openai_compat::assert_openai_error,
    sse::{Event, Events},
};

/// A completion request authenticated by `credential` (an API key or an access token).
fn completion(app: &TestApp, credential: &str, body: Value) -> RequestBuilder {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(credential)
        .json(&body)
}

/// `{"model": "dummy", "messages": [{"role": "user", "content": message}]}` plus `extra`.
fn asking(message: &str, extra: Value) -> Value {
    let mut body = json!({"model": "dummy", "messages": [{"role": "user", "content": message}]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// The dummy's documented usage: whitespace-separated words of the prompt and of the answer.
fn dummy_usage(prompt: &[&str], answer: &str) -> Value {
    let words = |text: &str| text.split_whitespace().count();
    let prompt = prompt.iter().map(|text| words(text)).sum::<usize>();
    let completion = words(answer);
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion})
}

/// Every event of a streamed completion until the body ends.
async fn chunks_of(response: reqwest::Response) -> Vec<Event> {
    Events::new(response).rest().await
}

#[apply(on_every_backend)]
async fn a_completion_is_a_chat_charged_stored_and_answered_in_openais_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("completer").await;
    let (_, key) = app.api_key(&session.access).await;
    let body = json!({"model": "dummy", "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Hello there"},
    ], "temperature": 0.2, "top_p": 1, "user": "ignored"});
    let response = completion(&app, &key, body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let expected = DummyResponder::answer("Hello there");
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(answer["model"], "dummy");
    assert_eq!(answer["choices"][0]["index"], 0);
    assert_eq!(
        answer["choices"][0]["message"],
        json!({"role": "assistant", "content": expected})
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer["usage"],
        dummy_usage(&["Answer briefly.", "Hello there"], &expected)
    );
    let chats = app.chats_of(&session.access).await;
    assert_eq!(chats.len(), 1);
    assert_eq!(
        (chats[0].message.as_str(), chats[0].response.as_str()),
        ("Hello there", expected.as_str())
    );
    assert_eq!(
        answer["created"].as_i64(),
        Some(chats[0].timestamp.timestamp())
    );
    assert_eq!(app.balance(&session.access).await, 3900);
    let history: Value = app.get("/chats/", &key).await.json().await.unwrap();
    assert_eq!(history["results"][0]["message"], "Hello there");
    assert_eq!(history["results"][0]["tokens_charged"], 100);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn the_clients_messages_are_the_context_and_stored_history_is_not_added(backend: Backend) {
    let (app, recording) = recording_app(backend).await;
    let session = app.signed_up("contextual").await;
    assert_eq!(
        app.chat(&session.access, "stored").await.status(),
        StatusCode::OK
    );
    let body = json!({"model": "recording", "messages": [
        {"role": "developer", "content": "Be kind."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "text", "text": "uno"}]},
        {"role": "user", "content": "two"},
    ], "max_tokens": 16, "temperature": 0.5});
    let response = completion(&app, &session.access, body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sent = recording.requests.lock().unwrap().last().cloned().unwrap();
    let messages: Vec<_> = sent
        .messages
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (Role::System, "You are terse."),
            (Role::System, "Be kind."),
            (Role::User, "one"),
            (Role::Assistant, "uno"),
            (Role::User, "two"),
        ]
    );
    assert_eq!((sent.max_tokens, sent.temperature), (16, Some(0.5)));
    let stored = app.chats_of(&session.access).await;
    assert_eq!(stored[0].message, "two", "only the last message is stored");
    assert_eq!(stored.len(), 2);
}

#[apply(on_every_backend)]
async fn a_streamed_completion_is_chunks_ending_in_done_with_usage_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("chunky").await;
    let (_, key) = app.api_key(&session.access).await;
    let expected = DummyResponder::answer("Stream this please");
    for include_usage in [true, false] {
        let body = asking(
            "Stream this please",
            json!({"stream": true, "stream_options": {"include_usage": include_usage}}),
        );
        let events = chunks_of(completion(&app, &key, body).send().await.unwrap()).await;
        assert!(events.iter().all(|event| event.name == "message"));
        let (done, chunks) = events.split_last().unwrap();
        assert_eq!(done.data, "[DONE]");
        let ids: Vec<_> = chunks.iter().map(|c| c.data["id"].clone()).collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "one id per stream");
        assert!(
            chunks
                .iter()
                .all(|c| c.data["object"] == "chat.completion.chunk")
        );
        assert_eq!(chunks[0].data["choices"][0]["delta"]["role"], "assistant");
        let (usage, answer) = if include_usage {
            let (usage, answer) = chunks.split_last().unwrap();
            assert_eq!(usage.data["choices"], json!([]));
            (Some(usage.data["usage"].clone()), answer)
        } else {
            assert!(chunks.iter().all(|c| c.data.get("usage").is_none()));
            (None, chunks)
        };
        let (finish, pieces) = answer.split_last().unwrap();
        assert_eq!(finish.data["choices"][0]["finish_reason"], "stop");
        let text: String = pieces
            .iter()
            .map(|c| c.data["choices"][0]["delta"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(text, expected);
        if let Some(usage) = usage {
            assert_eq!(usage, dummy_usage(&["Stream this please"], &expected));
        }
    }
    assert_eq!(app.balance(&session.access).await, 3800);
    assert_eq!(app.completed_chats(&session.access).await, 2);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn refusals_are_openai_errors_and_charge_nothing(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| settings.ledger.signup_grant = 100,
        Overrides::default(),
    )
    .await;
    let session = app.signed_up("refused").await;
    let (key_id, key) = app.api_key(&session.access).await;
    let send = |body: Value| completion(&app, &key, body).send();
    let unknown = send(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]}));
    let body = assert_openai_error(
        unknown.await.unwrap(),
        StatusCode::NOT_FOUND,
        "model_not_found",
    )
    .await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    for (invalid, param) in [
        (json!({"model": "dummy"}), "messages"),
        (
            json!({"model": "dummy", "messages": [{"role": "assistant", "content": "a"}]}),
            "messages",
        ),
        (asking("q", json!({"max_tokens": 0})), "max_tokens"),
        (asking("q", json!({"temperature": 3})), "temperature"),
        (asking("q", json!({"n": 2})), "n"),
    ] {
        let response = send(invalid).await.unwrap();
        let body = assert_openai_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    assert_eq!(app.balance(&session.access).await, 100, "nothing charged");
    assert_eq!(
        send(asking("first", json!({}))).await.unwrap().status(),
        StatusCode::OK
    );
    for stream in [false, true] {
        let response = send(asking("broke", json!({"stream": stream})))
            .await
            .unwrap();
        let body = assert_openai_error(
            response,
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_tokens",
        )
        .await;
        assert_eq!(body["error"]["type"], "insufficient_quota");
    }
    let revoked = app
        .client
        .delete(app.url(&format!("/api-keys/{key_id}/")))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let response = send(asking("after revocation", json!({}))).await.unwrap();
    assert_openai_error(response, StatusCode::UNAUTHORIZED, "token_invalid").await;
    assert_eq!(app.completed_chats(&session.access).await, 1);
    app.assert_ledger_consistent().await;
}

/// Invariant 2 through `/v1/`: a balance for 40 buys exactly 40 of 60 concurrent completions,
/// whole and streamed alike.
#[apply(on_every_backend)]
async fn sixty_concurrent_completions_of_one_user_buy_exactly_forty(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("concurrent").await;
    let (_, key) = app.api_key(&session.access).await;
    let requests = (0..60).map(|i| {
        let body = asking(&format!("concurrent {i}"), json!({"stream": i % 2 == 0}));
        let request = completion(&app, &key, body);
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            if status == StatusCode::OK && i % 2 == 0 {
                let events = chunks_of(response).await;
                assert_eq!(events.last().unwrap().data, "[DONE]", "{events:?}");
            }
            status
        })
    });
    let statuses = join_statuses(requests).await;
    let (ok, refused) = answered_and_refused(&statuses);
    assert_eq!((ok, refused), (40, 20), "{statuses:?}");
    assert_eq!(app.balance(&session.access).await, 0);
    assert_eq!(app.completed_chats(&session.access).await, 40);
    app.assert_ledger_consistent().await;
}

/// Invariant 5 through `/v1/`: retries with one `Idempotency-Key`, sequential or concurrent,
/// whole or streamed, are charged once and answered alike; the key with another conversation is
/// refused.
#[apply(on_every_backend)]
async fn idempotent_retries_are_charged_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("retrying").await;
    let (_, key) = app.api_key(&session.access).await;
    let keyed = |body: Value| {
        completion(&app, &key, body)
            .header("Idempotency-Key", "retry-1")
            .send()
    };
    let conversation = json!({"model": "dummy", "messages": [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "Charge me once"},
    ]});
    let attempts = join_all((0..4).map(|_| keyed(conversation.clone()))).await;
    let mut answers = Vec::new();
    for response in attempts {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        answers.push(body["choices"][0]["message"]["content"].clone());
    }
    let mut streamed = conversation.clone();
    streamed["stream"] = json!(true);
    let events = chunks_of(keyed(streamed).await.unwrap()).await;
    let text: String = events
        .iter()
        .filter_map(|e| e.data["choices"][0]["delta"]["content"].as_str())
        .collect();
    answers.push(json!(text));
    let expected = json!(DummyResponder::answer("Charge me once"));
    assert!(
        answers.iter().all(|answer| *answer == expected),
        "{answers:?}"
    );
    let mut other = conversation.clone();
    other["messages"][0]["content"] = json!("another beginning");
    let reused = keyed(other).await.unwrap();
    assert_openai_error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.balance(&session.access).await, 3900);
    assert_eq!(app.completed_chats(&session.access).await, 1);
    app.assert_ledger_consistent().await;
}
