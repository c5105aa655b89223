//! What the stub answers: scripted replies, and the gates that hold parts of them back.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use serde_json::{Value, json};
use tokio::sync::Notify;

/// A latch the test opens to let the stub go on (release the rest of a stream, or a held answer).
/// Clones share the latch. Opening is permanent; opening before the stub reaches it is fine.
#[derive(Clone, Default)]
pub struct Gate(Arc<GateState>);

#[derive(Default)]
struct GateState {
    open: AtomicBool,
    opened: Notify,
    reached: AtomicBool,
    arrived: Notify,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets whatever waits at the gate go on.
    pub fn open(&self) {
        self.0.open.store(true, Ordering::SeqCst);
        self.0.opened.notify_waiters();
    }

    /// Waits until the stub has reached the gate: everything scripted before it has been written.
    pub async fn reached(&self) {
        loop {
            let arrived = self.0.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.0.reached.load(Ordering::SeqCst) {
                return;
            }
            arrived.await;
        }
    }

    /// The stub's side: note arrival, then wait for [`Gate::open`].
    pub(super) async fn pass(&self) {
        self.0.reached.store(true, Ordering::SeqCst);
        self.0.arrived.notify_waiters();
        loop {
            let opened = self.0.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if self.0.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

/// One step of a scripted server-sent-events body.
#[derive(Clone)]
pub enum SseStep {
    /// An event `data: <text>` (followed by the blank line that ends it).
    Data(String),
    /// Bytes written as they are (half an event, a comment, garbage).
    Raw(String),
    /// Stop until the gate opens (watching for the client going away meanwhile).
    Wait(Gate),
    /// Stop writing but keep the connection open, until the client goes away.
    Hang,
    /// Drop the connection without ending the body properly.
    Cut,
}

/// How the stub answers one request.
#[derive(Clone)]
pub enum Reply {
    /// A response with a fixed body.
    Fixed {
        /// HTTP status.
        status: u16,
        /// Extra headers (a `content-type` here replaces the default `application/json`).
        headers: Vec<(String, String)>,
        /// The body, as written.
        body: String,
    },
    /// `200 text/event-stream`, written step by step in chunked encoding.
    Sse(Vec<SseStep>),
    /// An OpenAI-compatible answer made from the request: the last message's text, prefixed
    /// with `echo: `, cut to `max_tokens` words; whole or streamed word by word as the request's
    /// `stream` asks, with usage counted in words. The default when nothing is scripted.
    Echo,
    /// Read the request, never answer, notice when the client goes away.
    Hang,
    /// Read the request and close the connection without a word.
    Close,
    /// Wait at the gate (noticing a client that goes away), then answer with the inner reply.
    After(Gate, Box<Reply>),
}

impl Reply {
    /// `status` with a JSON `body`.
    pub fn json(status: u16, body: Value) -> Self {
        Self::Fixed {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// An OpenAI-style error object with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({"error": {"message": message, "type": "stub_error"}}),
        )
    }

    /// A whole `chat.completion` answering `text`, with usage.
    pub fn completion(text: &str, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self::json(
            200,
            json!({
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }],
                "usage": usage(prompt_tokens, completion_tokens),
            }),
        )
    }

    /// `200` with a body that is not JSON.
    pub fn malformed() -> Self {
        Self::Fixed {
            status: 200,
            headers: Vec::new(),
            body: "{\"choices\": [ this is not json".into(),
        }
    }

    /// The same reply with one more header.
    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Self::Fixed {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.to_owned(), value.to_owned()));
                Self::Fixed {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    /// This reply, held back until `gate` opens.
    pub fn after(self, gate: &Gate) -> Self {
        Self::After(gate.clone(), Box::new(self))
    }

    /// A streamed answer: a role-only chunk, one chunk per delta, a `finish_reason`, a usage
    /// chunk with empty `choices`, and `[DONE]`.
    pub fn stream(deltas: &[&str], model: &str, usage: Option<(u64, u64)>) -> Self {
        Self::Sse(stream_steps(deltas, model, usage))
    }
}

/// `usage` as OpenAI writes it.
fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// One `chat.completion.chunk` event.
pub fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> SseStep {
    SseStep::Data(
        json!({
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
        .to_string(),
    )
}

/// The steps of [`Reply::stream`]; tests splice a [`SseStep::Wait`] or a [`SseStep::Cut`] in.
pub fn stream_steps(
    deltas: &[&str],
    model: &str,
    usage_counts: Option<(u64, u64)>,
) -> Vec<SseStep> {
    let mut steps = vec![chunk(model, json!({"role": "assistant"}), None)];
    steps.extend(
        deltas
            .iter()
            .map(|text| chunk(model, json!({"content": text}), None)),
    );
    steps.push(chunk(model, json!({}), Some("stop")));
    if let Some((prompt, completion)) = usage_counts {
        steps.push(SseStep::Data(
            json!({
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [],
                "usage": usage(prompt, completion),
            })
            .to_string(),
        ));
    }
    steps.push(SseStep::Data("[DONE]".into()));
    steps
}

/// The [`Reply::Echo`] answer to a request body.
pub(super) fn echo(request: &Value) -> Reply {
    let words = |text: &str| text.split_whitespace().count() as u64;
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last = messages
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let limit = request["max_tokens"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let answer: Vec<String> = format!("echo: {last}")
        .split_whitespace()
        .take(limit)
        .map(str::to_owned)
        .collect();
    let prompt_tokens = messages
        .iter()
        .map(|m| words(m["content"].as_str().unwrap_or_default()))
        .sum();
    let model = request["model"].as_str().unwrap_or("stub");
    let counts = (prompt_tokens, answer.len() as u64);
    if request["stream"].as_bool() == Some(true) {
        let deltas: Vec<String> = answer
            .iter()
            .enumerate()
            .map(|(i, word)| {
                if i == 0 {
                    word.clone()
                } else {
                    format!(" {word}")
                }
            })
            .collect();
        let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let with_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
        Reply::stream(&deltas, model, with_usage.then_some(counts))
    } else {
        Reply::completion(&answer.join(" "), model, counts.0, counts.1)
    }
}
