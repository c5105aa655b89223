use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Sends one JSON POST over a raw socket; returns the socket to read the answer from.
async fn post(stub: &StubUpstream, body: &Value) -> TcpStream {
    let mut socket = TcpStream::connect(stub.address()).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: stub\r\nAuthorization: Bearer k\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

async fn read_all(mut socket: TcpStream) -> String {
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test]
async fn requests_are_captured_and_echoed_by_default() {
    let stub = StubUpstream::start().await;
    let body = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "one two three"}],
        "max_tokens": 3,
    });
    let answer = read_all(post(&stub, &body).await).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let json_body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        json_body["choices"][0]["message"]["content"], "echo: one two",
        "cut to max_tokens words"
    );
    assert_eq!(json_body["usage"]["completion_tokens"], 3);
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(requests[0].header("authorization"), Some("Bearer k"));
    assert_eq!(requests[0].body, body);
}

#[tokio::test]
async fn a_stream_waits_at_its_gate_and_a_client_leaving_there_is_counted() {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    let mut steps = stream_steps(&["first", "second"], "m", None);
    steps.insert(2, SseStep::Wait(gate.clone()));
    stub.push(Reply::Sse(steps));
    let mut socket = post(&stub, &json!({"stream": true})).await;
    gate.reached().await;
    // Everything before the gate has been written; read until it has all arrived.
    let mut seen = String::new();
    while !seen.contains("first") {
        let mut piece = [0u8; 4096];
        let read = socket.read(&mut piece).await.unwrap();
        assert!(read > 0, "the stub closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&piece[..read]));
    }
    assert!(!seen.contains("second"), "{seen}");
    assert_eq!(stub.disconnects(), 0);
    drop(socket);
    tokio::time::timeout(Duration::from_secs(10), stub.wait_for_disconnects(1))
        .await
        .expect("the stub notices the client left");
}

#[tokio::test]
async fn an_opened_gate_lets_the_rest_through_and_scripted_replies_come_in_order() {
    let stub = StubUpstream::start().await;
    let gate = Gate::new();
    stub.push(Reply::error(429, "slow down").with_header("Retry-After", "1"));
    stub.push(Reply::completion("held", "m", 1, 1).after(&gate));
    let first = read_all(post(&stub, &json!({})).await).await;
    assert!(
        first.starts_with("HTTP/1.1 429 ") && first.contains("Retry-After: 1\r\n"),
        "{first}"
    );
    let second = post(&stub, &json!({})).await;
    gate.reached().await;
    gate.open();
    assert!(read_all(second).await.contains("\"content\":\"held\""));
    assert_eq!(stub.disconnects(), 0);
}
