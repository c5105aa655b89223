//! A streamed completion in OpenAI's wire format: `chat.completion.chunk` objects as SSE `data:`
//! lines, ending in `data: [DONE]`.
//!
//! ```text
//! data: {"id":"chatcmpl-…","object":"chat.completion.chunk",…,"choices":[{"index":0,"delta":{"role":"assistant","content":""},…}]}
//! data: {…,"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}
//! data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}
//! data: {…,"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":9,"total_tokens":13}}
//! data: [DONE]
//! ```
//!
//! The usage chunk comes only with `stream_options.include_usage`. A failure after the stream has
//! begun is one `data: {"error": {…}}` line in OpenAI's error shape, which the SDKs raise as an
//! `APIError`, and no `[DONE]`.

use actix_web::web::Bytes;
use application::ChatEvent;
use serde::Serialize;

use super::{CompletionMeta, UsageView};
use crate::{
    ops::request_id::RequestId, problem::ApiError, routes::chat::stream::SseFormat,
    routes::v1::error::OpenAiErrorBody,
};

/// One `chat.completion.chunk`.
#[derive(Debug, Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageView>,
}

/// The one choice of a chunk.
#[derive(Debug, Serialize)]
struct ChunkChoice {
    index: u32,
    delta: Delta,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// What a chunk adds to the answer.
#[derive(Debug, Default, Serialize)]
struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// The chunk writer of one streamed completion.
pub struct Chunks {
    meta: CompletionMeta,
    include_usage: bool,
}

impl Chunks {
    /// Chunks named by `meta`, with a final usage chunk when `include_usage`.
    pub(super) fn new(meta: CompletionMeta, include_usage: bool) -> Self {
        Self {
            meta,
            include_usage,
        }
    }

    /// One chunk with `choices` (and `usage`) as a `data:` line.
    fn frame(&self, choices: Vec<ChunkChoice>, usage: Option<UsageView>) -> String {
        let chunk = Chunk {
            id: &self.meta.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            choices,
            usage,
        };
        data(&serde_json::to_string(&chunk).unwrap_or_else(|_| String::from("{}")))
    }

    /// A chunk of the one choice.
    fn choice(&self, delta: Delta, finish_reason: Option<&'static str>) -> String {
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        };
        self.frame(vec![choice], None)
    }
}

/// `payload` as one SSE `data:` line (JSON holds no raw newline).
fn data(payload: &str) -> String {
    format!("data: {payload}\n\n")
}

impl SseFormat for Chunks {
    fn encode(&mut self, event: ChatEvent, _request_id: Option<&RequestId>) -> Bytes {
        let frames = match event {
            ChatEvent::Started => self.choice(
                Delta {
                    role: Some("assistant"),
                    content: Some(String::new()),
                },
                None,
            ),
            ChatEvent::Delta(text) => self.choice(
                Delta {
                    role: None,
                    content: Some(text),
                },
                None,
            ),
            ChatEvent::Done(answered) => {
                let mut frames = self.choice(Delta::default(), Some("stop"));
                if self.include_usage {
                    frames.push_str(&self.frame(Vec::new(), Some(answered.tokens.into())));
                }
                frames.push_str(&data("[DONE]"));
                frames
            }
            ChatEvent::Failed(error) => {
                let error = ApiError::from(error);
                error.log();
                let body = serde_json::to_string(&OpenAiErrorBody::of(&error))
                    .unwrap_or_else(|_| String::from("{}"));
                data(&body)
            }
        };
        Bytes::from(frames)
    }
}

#[cfg(test)]
mod tests {
    use application::{Answered, AppError};
    use chrono::{TimeZone, Utc};
    use domain::{ChatStatus, TokenCounts, Tokens, UserId};
    use ports::{ChatRecord, SettledChat};
    use serde_json::{Value, json};

    use super::*;

    fn chunks(include_usage: bool) -> Chunks {
        Chunks::new(
            CompletionMeta {
                id: "chatcmpl-1".into(),
                created: 1_735_732_800,
                model: "dummy".into(),
            },
            include_usage,
        )
    }

    /// Each `data:` payload of `bytes`, parsed (`[DONE]` as a string).
    fn payloads(bytes: Bytes) -> Vec<Value> {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.ends_with("\n\n"), "{text:?}");
        text.split_terminator("\n\n")
            .map(|frame| {
                let payload = frame.strip_prefix("data: ").unwrap();
                serde_json::from_str(payload).unwrap_or_else(|_| json!(payload))
            })
            .collect()
    }

    fn done() -> ChatEvent {
        ChatEvent::Done(Answered {
            settled: SettledChat {
                record: ChatRecord {
                    id: 3,
                    user_id: UserId(1),
                    message: "m".into(),
                    response: "Hello there".into(),
                    timestamp: Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap(),
                    status: ChatStatus::Completed,
                    tokens_charged: Tokens::new(100),
                },
                balance: Tokens::new(3800),
            },
            model: "dummy".into(),
            tokens: TokenCounts {
                prompt: 4,
                completion: 9,
            },
        })
    }

    #[test]
    fn the_answer_is_a_role_chunk_content_chunks_a_finish_chunk_and_done() {
        let mut format = chunks(false);
        let started = payloads(format.encode(ChatEvent::Started, None));
        assert_eq!(started.len(), 1);
        assert_eq!(started[0]["object"], "chat.completion.chunk");
        assert_eq!(
            (
                &started[0]["id"],
                &started[0]["created"],
                &started[0]["model"]
            ),
            (&json!("chatcmpl-1"), &json!(1_735_732_800), &json!("dummy"))
        );
        assert_eq!(
            started[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let delta = payloads(format.encode(ChatEvent::Delta("Hello".into()), None));
        assert_eq!(delta[0]["choices"][0]["delta"], json!({"content": "Hello"}));
        assert_eq!(delta[0]["choices"][0]["finish_reason"], Value::Null);
        let end = payloads(format.encode(done(), None));
        assert_eq!(end.len(), 2, "{end:?}");
        assert_eq!(end[0]["choices"][0]["delta"], json!({}));
        assert_eq!(end[0]["choices"][0]["finish_reason"], "stop");
        assert!(end[0].get("usage").is_none());
        assert_eq!(end[1], json!("[DONE]"));
    }

    #[test]
    fn with_include_usage_a_usage_chunk_without_choices_precedes_done() {
        let end = payloads(chunks(true).encode(done(), None));
        assert_eq!(end.len(), 3, "{end:?}");
        assert_eq!(end[1]["choices"], json!([]));
        assert_eq!(
            end[1]["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13})
        );
        assert_eq!(end[2], json!("[DONE]"));
    }

    #[test]
    fn a_failure_mid_stream_is_one_openai_error_and_no_done() {
        let failed =
            payloads(chunks(true).encode(ChatEvent::Failed(AppError::ResponderTimeout), None));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["error"]["code"], "responder_timeout");
        assert_eq!(failed[0]["error"]["type"], "server_error");
    }
}
