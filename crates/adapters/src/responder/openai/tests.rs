//! The adapter against the stub upstream: nothing leaves the machine.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use ports::{PromptMessage, Role, StreamPiece, Usage};
use serde_json::json;
use test_support::stub_upstream::{
    Gate, Reply, SseStep, StubUpstream, refused_base_url, stream_steps,
};

use super::*;
use crate::responder::{LimitedResponder, TimeoutResponder, limited::SLOT_WAIT};

const KEY: &str = "sk-test-key-that-must-stay-secret";

fn config(base_url: &str, api_key: Option<&str>) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base_url.to_owned(),
        model: "stub-model".into(),
        api_key: api_key.map(|key| SecretString::from(key.to_owned())),
        first_byte_timeout: Duration::from_secs(10),
        max_retries: 2,
    }
}

fn responder(base_url: &str) -> OpenAiResponder {
    OpenAiResponder::new(config(base_url, Some(KEY))).unwrap()
}

/// A system prompt, one earlier exchange and the new message, as the use case sends them.
fn request() -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            PromptMessage::new(Role::System, "Be brief."),
            PromptMessage::new(Role::User, "Hi"),
            PromptMessage::new(Role::Assistant, "Hello!"),
            PromptMessage::new(Role::User, "How are you?"),
        ],
        max_tokens: 42,
        temperature: Some(0.25),
    }
}

async fn collect(stream: CompletionStream) -> Vec<Result<StreamPiece, ResponderError>> {
    stream.collect().await
}

#[tokio::test]
async fn a_whole_answer_is_requested_in_the_openai_shape_with_the_bearer_key() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::completion("Fine, thanks.", "stub-model-2024", 11, 3));
    let completion = responder(&stub.base_url())
        .complete(request())
        .await
        .unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "Fine, thanks.".into(),
            model: "stub-model-2024".into(),
            usage: Some(Usage {
                prompt_tokens: 11,
                completion_tokens: 3
            }),
        }
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "model": "stub-model",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How are you?"},
            ],
            "max_tokens": 42,
            "temperature": 0.25,
            "stream": false,
        })
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent_and_a_trailing_slash_is_fine() {
    let stub = StubUpstream::start().await;
    let base_url = format!("{}/", stub.base_url());
    let responder = OpenAiResponder::new(config(&base_url, None)).unwrap();
    assert!(responder.complete(request()).await.is_ok());
    let sent = &stub.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried_once() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::error(429, "rate limited").with_header("Retry-After", "1"));
    stub.push(Reply::completion("at last", "m", 1, 2));
    let started = std::time::Instant::now();
    let completion = responder(&stub.base_url())
        .complete(request())
        .await
        .unwrap();
    assert_eq!(completion.text, "at last");
    assert_eq!(stub.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn retryable_failures_are_retried_up_to_max_retries_then_fail() {
    let stub = StubUpstream::start().await;
    stub.set_fallback(Reply::error(503, "overloaded"));
    let result = responder(&stub.base_url()).complete(request()).await;
    assert!(
        matches!(result, Err(ResponderError::Failed(_))),
        "{result:?}"
    );
    assert_eq!(stub.requests().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::Close);
    stub.push(Reply::error(502, "bad gateway"));
    stub.push(Reply::completion("third time lucky", "m", 1, 3));
    let completion = responder(&stub.base_url()).complete(request()).await;
    assert_eq!(completion.unwrap().text, "third time lucky");
    assert_eq!(stub.requests().len(), 3);
}

#[tokio::test]
async fn other_error_statuses_fail_at_once_without_the_upstream_text_or_key_in_the_error() {
    for status in [500, 400, 401] {
        let stub = StubUpstream::start().await;
        stub.push(Reply::error(status, &format!("bad key {KEY}")));
        let result = responder(&stub.base_url()).complete(request()).await;
        let Err(ResponderError::Failed(reason)) = result else {
            panic!("{status}: {result:?}");
        };
        assert!(reason.contains(&status.to_string()), "{reason}");
        assert!(!reason.contains(KEY), "the key is scrubbed: {reason}");
        assert_eq!(stub.requests().len(), 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_first_byte_budget_fails_at_once() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::error(429, "come back tomorrow").with_header("Retry-After", "3600"));
    let started = std::time::Instant::now();
    let result = responder(&stub.base_url()).complete(request()).await;
    assert!(
        matches!(result, Err(ResponderError::Failed(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn malformed_or_empty_answers_fail() {
    for reply in [
        Reply::malformed(),
        Reply::json(200, json!({"choices": []})),
        Reply::json(200, json!({"choices": [{"message": {"content": null}}]})),
    ] {
        let stub = StubUpstream::start().await;
        stub.push(reply);
        let result = responder(&stub.base_url()).complete(request()).await;
        assert!(
            matches!(result, Err(ResponderError::Failed(_))),
            "{result:?}"
        );
        assert_eq!(stub.requests().len(), 1, "a 200 is never retried");
    }
}

#[tokio::test]
async fn a_refused_connection_fails_after_its_retries() {
    let result = responder(&refused_base_url()).complete(request()).await;
    let Err(ResponderError::Failed(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("3 attempt"), "{reason}");
}

#[tokio::test]
async fn nul_characters_never_reach_the_answer() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::completion("a\u{0}b", "m\u{0}", 1, 1));
    stub.push(Reply::stream(&["x\u{0}", "\u{0}", "y"], "m", None));
    let responder = responder(&stub.base_url());
    let completion = responder.complete(request()).await.unwrap();
    assert_eq!(
        (completion.text.as_str(), completion.model.as_str()),
        ("ab", "m")
    );
    let pieces = collect(responder.stream(request()).await.unwrap()).await;
    assert_eq!(
        pieces[..2],
        [
            Ok(StreamPiece::Delta("x".into())),
            Ok(StreamPiece::Delta("y".into()))
        ]
    );
}

#[tokio::test]
async fn a_stream_is_requested_with_usage_and_parsed_into_deltas_and_one_finish() {
    let stub = StubUpstream::start().await;
    stub.push(Reply::stream(&["Hel", "lo"], "served-model", Some((9, 2))));
    let pieces = collect(responder(&stub.base_url()).stream(request()).await.unwrap()).await;
    assert_eq!(
        pieces,
        vec![
            Ok(StreamPiece::Delta("Hel".into())),
            Ok(StreamPiece::Delta("lo".into())),
            Ok(StreamPiece::Finished {
                model: "served-model".into(),
                usage: Some(Usage {
                    prompt_tokens: 9,
                    completion_tokens: 2
                })
            }),
        ]
    );
    let body = &stub.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], 42);
}

#[tokio::test]
async fn a_delta_arrives_before_the_upstream_has_written_the_rest() {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    let mut steps = stream_steps(&["first", " second"], "m", None);
    steps.insert(2, SseStep::Wait(gate.clone()));
    stub.push(Reply::Sse(steps));
    let mut stream = responder(&stub.base_url()).stream(request()).await.unwrap();
    assert_eq!(
        stream.next().await,
        Some(Ok(StreamPiece::Delta("first".into())))
    );
    gate.open();
    let rest = collect(stream).await;
    assert_eq!(rest[0], Ok(StreamPiece::Delta(" second".into())));
    assert!(matches!(rest[1], Ok(StreamPiece::Finished { .. })));
}

#[tokio::test]
async fn a_stream_cut_after_a_delta_fails_and_is_not_retried() {
    let stub = StubUpstream::start().await;
    let mut steps = stream_steps(&["partial"], "m", None);
    steps.truncate(2);
    steps.push(SseStep::Cut);
    stub.push(Reply::Sse(steps));
    let pieces = collect(responder(&stub.base_url()).stream(request()).await.unwrap()).await;
    assert_eq!(pieces[0], Ok(StreamPiece::Delta("partial".into())));
    assert!(
        matches!(pieces[1], Err(ResponderError::Failed(_))),
        "{pieces:?}"
    );
    assert_eq!(pieces.len(), 2);
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn dropping_a_stream_closes_the_upstream_connection() {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    let mut steps = stream_steps(&["first", "never sent"], "m", None);
    steps.insert(2, SseStep::Wait(gate));
    stub.push(Reply::Sse(steps));
    let mut stream = responder(&stub.base_url()).stream(request()).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamPiece::Delta(_)))
    ));
    assert_eq!(stub.disconnects(), 0);
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), stub.wait_for_disconnects(1))
        .await
        .expect("the stub sees the connection closed");
}

/// The adapter inside the timeout wrapper, with one-second first-byte and gap limits.
fn impatient(base_url: &str) -> TimeoutResponder {
    TimeoutResponder::new(
        Arc::new(responder(base_url)),
        Duration::from_secs(1),
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn an_upstream_that_hangs_times_out_and_is_hung_up_on() {
    let stub = StubUpstream::start().await;
    stub.set_fallback(Reply::Hang);
    let responder = impatient(&stub.base_url());
    assert_eq!(
        responder.complete(request()).await,
        Err(ResponderError::Timeout)
    );
    assert!(matches!(
        responder.stream(request()).await,
        Err(ResponderError::Timeout)
    ));
    tokio::time::timeout(Duration::from_secs(10), stub.wait_for_disconnects(2))
        .await
        .expect("both connections closed");
}

#[tokio::test]
async fn a_gap_longer_than_the_limit_ends_the_stream_with_a_timeout() {
    let stub = StubUpstream::start().await;
    let mut steps = stream_steps(&["first", "late"], "m", None);
    steps.insert(2, SseStep::Wait(Gate::new()));
    stub.push(Reply::Sse(steps));
    let pieces = collect(impatient(&stub.base_url()).stream(request()).await.unwrap()).await;
    assert_eq!(
        pieces,
        vec![
            Ok(StreamPiece::Delta("first".into())),
            Err(ResponderError::Timeout)
        ]
    );
    tokio::time::timeout(Duration::from_secs(10), stub.wait_for_disconnects(1))
        .await
        .expect("the stalled connection is closed");
}

#[tokio::test]
async fn a_call_beyond_max_concurrency_is_busy_and_never_reaches_the_upstream() {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    stub.push(Reply::completion("first", "m", 1, 1).after(&gate));
    let limited = Arc::new(LimitedResponder::new(
        Arc::new(responder(&stub.base_url())),
        1,
        SLOT_WAIT,
    ));
    let first = tokio::spawn({
        let limited = limited.clone();
        async move { limited.complete(request()).await }
    });
    stub.wait_for_requests(1).await;
    assert_eq!(
        limited.complete(request()).await,
        Err(ResponderError::Busy {
            retry_after_secs: 1
        })
    );
    assert_eq!(stub.requests().len(), 1);
    gate.open();
    assert_eq!(first.await.unwrap().unwrap().text, "first");
}

#[tokio::test]
async fn https_works_offline_with_compiled_in_roots() {
    // Building the client loads the TLS stack and the root certificates: nothing is fetched.
    let responder = responder("https://api.openai.com/v1");
    assert_eq!(
        responder.endpoint().as_str(),
        "https://api.openai.com/v1/chat/completions"
    );
    // An HTTPS request to a plain-HTTP server fails in the TLS handshake, as a `Failed`.
    let stub = StubUpstream::start().await;
    let tls_to_plain = format!("https://{}/v1", stub.address());
    let result = OpenAiResponder::new(OpenAiConfig {
        max_retries: 0,
        ..config(&tls_to_plain, Some(KEY))
    })
    .unwrap()
    .complete(request())
    .await;
    assert!(
        matches!(result, Err(ResponderError::Failed(_))),
        "{result:?}"
    );
}

#[test]
fn unusable_configurations_are_refused_without_showing_the_key() {
    let cases = [
        (config("ftp://host/v1", None), "http"),
        (config("not a url", None), "URL"),
        (config("http://user:pass@host/v1", None), "credentials"),
        (config("http://host/v1?x=1", None), "query"),
        (
            OpenAiConfig {
                model: " ".into(),
                ..config("http://host/v1", None)
            },
            "empty",
        ),
        (
            config("http://host/v1", Some("sk bad\nkey")),
            "visible ASCII",
        ),
    ];
    for (config, expected) in cases {
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains("sk bad"), "{error}");
    }
    assert!(
        config("http://127.0.0.1:8080/v1/", Some(KEY))
            .validate()
            .is_ok()
    );
}
