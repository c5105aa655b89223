//! The JSON of `POST /chat/completions`, as far as we send and read it. Fields we do not use are
//! ignored, and every field we read is optional where some compatible server omits it.

use ports::{CompletionRequest, Usage};
use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<WireMessage<'a>>,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    pub stream: bool,
    /// Asks a streaming server for a last chunk carrying the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// One message of the request.
#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

/// `stream_options` of a streamed request.
#[derive(Debug, Serialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

impl<'a> ChatRequest<'a> {
    /// The body asking `model` for `request`, whole or streamed.
    pub fn new(model: &'a str, request: &'a CompletionRequest, stream: bool) -> Self {
        Self {
            model,
            messages: request
                .messages
                .iter()
                .map(|message| WireMessage {
                    role: message.role.as_str(),
                    content: &message.content,
                })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

/// Token counts as servers report them.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

/// A whole answer (`chat.completion`).
#[derive(Debug, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<ResponseChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// One choice of a whole answer; we ask for one and read the first.
#[derive(Debug, Deserialize)]
pub struct ResponseChoice {
    pub message: ResponseMessage,
}

/// The answer's message.
#[derive(Debug, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub content: Option<String>,
}

/// One streamed chunk (`chat.completion.chunk`), or an error object some servers send inside
/// the stream.
#[derive(Debug, Deserialize)]
pub struct ChatChunk {
    #[serde(default)]
    pub model: Option<String>,
    /// Empty in the final usage chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub delta: Option<ChunkDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The new text of a chunk (the first usually carries only the role).
#[derive(Debug, Deserialize)]
pub struct ChunkDelta {
    #[serde(default)]
    pub content: Option<String>,
}

pub use domain::chat::without_nul;

#[cfg(test)]
mod tests {
    use ports::{PromptMessage, Role};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_streamed_request_asks_for_usage_and_omits_an_unset_temperature() {
        let request = CompletionRequest {
            messages: vec![
                PromptMessage::new(Role::System, "be brief"),
                PromptMessage::new(Role::User, "hi"),
            ],
            max_tokens: 7,
            temperature: None,
        };
        assert_eq!(
            serde_json::to_value(ChatRequest::new("m", &request, true)).unwrap(),
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                ],
                "max_tokens": 7,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
        let whole = CompletionRequest {
            temperature: Some(0.5),
            ..request
        };
        let body = serde_json::to_value(ChatRequest::new("m", &whole, false)).unwrap();
        assert_eq!(
            (&body["stream"], &body["temperature"]),
            (&json!(false), &json!(0.5))
        );
        assert!(body.get("stream_options").is_none());
    }
}
