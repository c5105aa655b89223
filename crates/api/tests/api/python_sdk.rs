//! The official `openai` Python SDK against a running chat-api: a foreign client proving the
//! `/v1/` compatibility (`openai_sdk.py` does what SDK users do and reports what it saw).
//!
//! The interpreter is `CHAT_API_TEST_PYTHON` (`.ci/run` points it at a virtual environment with
//! the SDK from PyPI), else `python3` if it can import `openai`; without either the test skips
//! visibly, and fails under `CHAT_API_TEST_REQUIRE_ALL=1`. It runs on SQLite only: what it proves
//! is the wire format, which the Rust tests of `completions` check on both backends.

use std::process::Command;

use adapters::responder::DummyResponder;
use reqwest::StatusCode;
use serde_json::Value;
use test_support::Backend;

use crate::helpers::*;

/// Names the interpreter to use.
const PYTHON_VAR: &str = "CHAT_API_TEST_PYTHON";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/openai_sdk.py");

/// The interpreter with the SDK, or `None` after a visible skip.
fn python_with_sdk() -> Option<String> {
    if let Ok(python) = std::env::var(PYTHON_VAR) {
        return Some(python);
    }
    let found = Command::new("python3")
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|output| output.status.success());
    if found {
        return Some("python3".into());
    }
    test_support::skip(
        "python_sdk::the_official_openai_sdk_lists_completes_streams_and_raises",
        &format!("no {PYTHON_VAR} and no python3 with the openai package"),
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_lists_completes_streams_and_raises() {
    let Some(python) = python_with_sdk() else {
        return;
    };
    // Two chats' worth: the SDK user spends it all, the broke user has spent it before.
    let app = spawn_app_with(
        Backend::Sqlite,
        |settings| settings.ledger.signup_grant = 200,
        Overrides::default(),
    )
    .await;
    let live = app.signed_up("sdk-user").await;
    let (_, key) = app.api_key(&live.access).await;
    let (revoked_id, revoked) = app.api_key(&live.access).await;
    let revocation = app
        .client
        .delete(app.url(&format!("/api-keys/{revoked_id}/")))
        .bearer_auth(&live.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revocation.status(), StatusCode::NO_CONTENT);
    let broke = app.signed_up("sdk-broke").await;
    for message in ["one", "two"] {
        assert_eq!(
            app.chat(&broke.access, message).await.status(),
            StatusCode::OK
        );
    }
    let (_, broke_key) = app.api_key(&broke.access).await;

    let mut command = Command::new(&python);
    command
        .arg(SCRIPT)
        .env("CHAT_API_BASE_URL", app.url(""))
        .env("CHAT_API_KEY", &key)
        .env("CHAT_API_BROKE_KEY", &broke_key)
        .env("CHAT_API_REVOKED_KEY", &revoked)
        // The SDK must reach this server directly, whatever proxy the environment names.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the SDK script");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    let answer = DummyResponder::answer("Hello from the SDK");
    let words = |text: &str| text.split_whitespace().count() as u64;
    assert_eq!(seen["models"], serde_json::json!(["dummy"]));
    assert_eq!(seen["completion"]["content"], answer.as_str());
    assert_eq!(seen["completion"]["model"], "dummy");
    let usage = &seen["completion"]["usage"];
    assert_eq!(
        usage["prompt_tokens"],
        words("Answer briefly.") + words("Hello from the SDK")
    );
    assert_eq!(usage["completion_tokens"], words(&answer));
    assert_eq!(seen["stream"]["content"], answer.as_str());
    assert!(seen["stream"]["chunks"].as_u64().unwrap() > 2, "{seen}");
    assert_eq!(seen["stream"]["usage"]["completion_tokens"], words(&answer));
    assert_eq!(seen["exhausted"]["status"], 402);
    assert_eq!(seen["exhausted"]["code"], "insufficient_tokens");
    assert_eq!(seen["revoked"]["status"], 401);
    assert_eq!(seen["revoked"]["code"], "token_invalid");
    assert_eq!(seen["unknown_model"]["status"], 404);
    assert_eq!(seen["unknown_model"]["code"], "model_not_found");

    assert_eq!(
        app.balance(&live.access).await,
        0,
        "two completions charged"
    );
    assert_eq!(app.completed_chats(&live.access).await, 2);
    assert_eq!(app.completed_chats(&broke.access).await, 2);
    app.assert_ledger_consistent().await;
}
