//! Error bodies as the real server sends them, where a body depends on more than its error
//! variant: the domain's field messages, serde's wording of a malformed body, the configured size
//! limit, the echoed media type. Every variant's body is also snapshotted at unit level
//! (`crates/api/src/problem/snapshot_tests.rs`); both sets live in `snapshots/*.snap`.

use reqwest::RequestBuilder;
use serde_json::json;
use test_support::{Backend, assert_problem_snapshot};

use crate::helpers::*;

async fn record(request: RequestBuilder) -> serde_json::Value {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    test_support::problem_snapshot::record(
        status,
        |name| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        },
        &body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_shaped_by_the_real_request_path() {
    let app = spawn_app(Backend::Sqlite).await;
    let register = || app.client.post(app.url("/register/"));
    let cases = [
        (
            "server_register_field_errors",
            register().json(&json!({"username": " ", "password": "x".repeat(200)})),
        ),
        (
            "server_register_missing_fields_as_form",
            register().form(&[("unrelated", "1")]),
        ),
        (
            "server_register_malformed_json",
            register()
                .header("content-type", "application/json")
                .body("{\"username\": "),
        ),
        (
            "server_register_unsupported_media_type",
            register().header("content-type", "text/plain").body("hi"),
        ),
        (
            "server_register_payload_too_large",
            register()
                .header("content-type", "application/json")
                .body(format!("{{\"username\": \"{}\"}}", "a".repeat(70_000))),
        ),
    ];
    for (name, request) in cases {
        let record = record(request).await;
        assert_problem_snapshot!(name, record);
    }
    app.stop().await;
}
