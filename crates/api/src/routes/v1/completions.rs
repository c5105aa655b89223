//! `POST /v1/chat/completions`: OpenAI's chat-completions API over the native chat protocol. The
//! request is read here (the fields chat-api uses; any other is ignored), its conversation is
//! validated by [`ClientConversation`], and the chat runs through the same
//! [`application::SendChat`] use case as `/chatView/` — same pricing, reservation, settlement,
//! ledger and `Idempotency-Key` — with the client's earlier messages as the context instead of
//! the stored history. The answer is
//! OpenAI's `chat.completion` object, or with `"stream": true` its `chat.completion.chunk` stream
//! (see [`chunks`]).

mod chunks;

use actix_web::{HttpRequest, HttpResponse, web};
use application::{
    Answered, AppError, ChatOptions, SendChatCommand,
    chat_completions::{ClientConversation, ClientMessage},
};
use chrono::Utc;
use domain::{FieldErrors, TokenCounts};
use serde::{Deserialize, Serialize};

use crate::{
    extract::{CurrentUser, FormOrJson},
    ops::Shutdown,
    problem::ApiError,
    routes::chat::{answer_whole, idempotency_key, stream},
    state::AppState,
};

/// One message of the request's `messages`.
#[derive(Debug, Deserialize)]
pub struct RequestMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// The text, or a list of content parts; `null` (an assistant's tool call) is empty.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// A message's `content`: a string or OpenAI's list of parts, of which only text is accepted.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts, e.g. `[{"type": "text", "text": "Hi"}]`.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    /// `text` is the only kind accepted.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Ends the stream with a chunk carrying the usage (and no choices) before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// The fields of an OpenAI chat-completions request chat-api reads.
#[derive(Debug)]
pub struct ChatCompletionRequest {
    /// The model asked for; it must be the one `GET /v1/models` lists.
    pub model: String,
    /// The conversation; the last message is the one answered, stored and charged.
    pub messages: Vec<RequestMessage>,
    /// Whether to stream the answer as `chat.completion.chunk` events.
    pub stream: bool,
    /// Stream options.
    pub stream_options: StreamOptions,
    /// Longest answer, in model tokens (`max_completion_tokens`, OpenAI's newer name, wins).
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    pub temperature: Option<f32>,
}

impl ChatCompletionRequest {
    /// Reads the request from `body`, every invalid field reported at once, DRF-style. `n` other
    /// than 1 is refused: one answer is one chat.
    fn read(body: &FormOrJson) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let model = body.string("model", &mut errors);
        let messages = body.typed::<Vec<RequestMessage>>("messages", &mut errors);
        if messages.is_none() && errors.fields().get("messages").is_none() {
            errors.add("messages", "This field is required.");
        }
        let stream = body.typed::<bool>("stream", &mut errors).unwrap_or(false);
        let stream_options = body
            .typed::<StreamOptions>("stream_options", &mut errors)
            .unwrap_or_default();
        let max_tokens = body.typed::<u32>("max_tokens", &mut errors);
        let max_completion_tokens = body.typed::<u32>("max_completion_tokens", &mut errors);
        let temperature = body.typed::<f32>("temperature", &mut errors);
        if body.typed::<u32>("n", &mut errors).is_some_and(|n| n != 1) {
            errors.add("n", "Only one choice (n = 1) is supported.");
        }
        match (model, messages) {
            (Some(model), Some(messages)) if errors.is_empty() => Ok(Self {
                model,
                messages,
                stream,
                stream_options,
                max_tokens: max_completion_tokens.or(max_tokens),
                temperature,
            }),
            _ => Err(AppError::Validation(errors).into()),
        }
    }

    /// The conversation as the use case validates it: each message's content reduced to text.
    fn client_messages(&self) -> Result<Vec<ClientMessage>, ApiError> {
        self.messages
            .iter()
            .map(|message| {
                let content = match &message.content {
                    None => String::new(),
                    Some(MessageContent::Text(text)) => text.clone(),
                    Some(MessageContent::Parts(parts)) => text_of(parts)?,
                };
                Ok(ClientMessage {
                    role: message.role.clone(),
                    content,
                })
            })
            .collect()
    }
}

/// The text parts of a message joined by newlines; any other kind of part is refused.
fn text_of(parts: &[ContentPart]) -> Result<String, ApiError> {
    let texts = parts
        .iter()
        .map(|part| match (part.kind.as_str(), &part.text) {
            ("text", Some(text)) => Ok(text.as_str()),
            _ => Err(AppError::invalid_field(
                "messages",
                "Only text content parts are supported.",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.join("\n"))
}

/// What every answer to one request shares: its id, when it was created, the model named.
#[derive(Debug, Clone)]
struct CompletionMeta {
    id: String,
    created: i64,
    model: String,
}

/// OpenAI's `usage`.
#[derive(Debug, Serialize)]
struct UsageView {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl From<TokenCounts> for UsageView {
    fn from(tokens: TokenCounts) -> Self {
        Self {
            prompt_tokens: tokens.prompt,
            completion_tokens: tokens.completion,
            total_tokens: tokens.prompt + tokens.completion,
        }
    }
}

/// OpenAI's `chat.completion` object.
#[derive(Debug, Serialize)]
struct ChatCompletion {
    id: String,
    object: &'static str,
    created: i64,
    model: String,
    choices: [Choice; 1],
    usage: UsageView,
}

/// The one choice of a whole answer.
#[derive(Debug, Serialize)]
struct Choice {
    index: u32,
    message: AssistantMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

/// The answer as an assistant message.
#[derive(Debug, Serialize)]
struct AssistantMessage {
    role: &'static str,
    content: String,
}

impl ChatCompletion {
    /// The whole answer: `created` is when the exchange was stored, `model` the one that
    /// answered.
    fn new(meta: CompletionMeta, answered: Answered) -> Self {
        let record = answered.settled.record;
        Self {
            id: meta.id,
            object: "chat.completion",
            created: record.timestamp.timestamp(),
            model: answered.model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: record.response,
                },
                logprobs: None,
                finish_reason: "stop",
            }],
            usage: answered.tokens.into(),
        }
    }
}

/// `POST /v1/chat/completions` → a `chat.completion`, or with `"stream": true` a
/// `chat.completion.chunk` SSE stream ending in `data: [DONE]`.
pub async fn create(
    state: web::Data<AppState>,
    shutdown: web::Data<Shutdown>,
    CurrentUser(user): CurrentUser,
    request: HttpRequest,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let completion = ChatCompletionRequest::read(&body)?;
    let conversation = ClientConversation::parse(completion.client_messages()?)?;
    state.models.check(&completion.model)?;
    let command = SendChatCommand {
        user,
        message: conversation.message.as_str().to_owned(),
        idempotency_key: idempotency_key(&request)?,
        options: ChatOptions {
            client_context: Some(conversation.context),
            max_tokens: completion.max_tokens,
            temperature: completion.temperature,
        },
    };
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: Utc::now().timestamp(),
        model: completion.model,
    };
    let send_chat = state.send_chat.clone();
    if completion.stream {
        let format = chunks::Chunks::new(meta, completion.stream_options.include_usage);
        return stream::respond(send_chat, command, &shutdown, format).await;
    }
    let answered = answer_whole(send_chat, command, &shutdown).await?;
    Ok(HttpResponse::Ok().json(ChatCompletion::new(meta, answered)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<ChatCompletionRequest, ApiError> {
        ChatCompletionRequest::read(&FormOrJson::parse("application/json", body.as_bytes())?)
    }

    fn refused_fields(body: &str) -> Vec<String> {
        match read(body) {
            Err(ApiError::App(AppError::Validation(errors))) => {
                errors.fields().keys().cloned().collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn openais_fields_are_read_and_unknown_ones_ignored() {
        let request = read(
            r#"{"model": "dummy", "messages": [{"role": "system", "content": null},
                {"role": "user", "content": [{"type": "text", "text": "a"},
                {"type": "text", "text": "b"}]}], "stream": true,
                "stream_options": {"include_usage": true}, "max_tokens": 9,
                "max_completion_tokens": 7, "temperature": 0.5, "n": 1, "top_p": 1,
                "user": "someone"}"#,
        )
        .unwrap();
        assert_eq!(request.model, "dummy");
        assert!(request.stream && request.stream_options.include_usage);
        assert_eq!(request.max_tokens, Some(7), "the newer name wins");
        assert_eq!(request.temperature, Some(0.5));
        let messages = request.client_messages().unwrap();
        assert_eq!(
            messages,
            vec![
                ClientMessage {
                    role: "system".into(),
                    content: String::new()
                },
                ClientMessage {
                    role: "user".into(),
                    content: "a\nb".into()
                },
            ]
        );
        let plain =
            read(r#"{"model": "m", "messages": [{"role": "user", "content": "q"}]}"#).unwrap();
        assert!(!plain.stream && !plain.stream_options.include_usage);
        assert_eq!((plain.max_tokens, plain.temperature), (None, None));
    }

    #[test]
    fn every_mistyped_or_missing_field_is_named() {
        assert_eq!(refused_fields("{}"), ["messages", "model"]);
        assert_eq!(
            refused_fields(
                r#"{"model": 4, "messages": "hi", "stream": "yes", "max_tokens": -1,
                    "temperature": "hot", "n": 2, "stream_options": "x"}"#
            ),
            [
                "max_tokens",
                "messages",
                "model",
                "n",
                "stream",
                "stream_options",
                "temperature"
            ]
        );
    }

    #[test]
    fn only_text_content_parts_are_accepted() {
        let request = read(
            r#"{"model": "m", "messages": [{"role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#,
        )
        .unwrap();
        assert!(matches!(
            request.client_messages(),
            Err(ApiError::App(AppError::Validation(_)))
        ));
    }
}
