//! The AI model behind the chat: the dummy, an OpenAI-compatible server, or a team's own adapter.
//!
//! A request is a list of role-tagged messages (system prompt, earlier exchanges, the new user
//! message last), so the same port serves the native `/chatView/` and an OpenAI-compatible face.
//! An answer comes whole ([`Responder::complete`]) or as a stream of pieces
//! ([`Responder::stream`]).

use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions from the operator (`responder.system_prompt`).
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The name OpenAI-compatible APIs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessage {
    /// Its author.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl PromptMessage {
    /// A message by `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What the model is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The conversation, oldest first; the message to answer is the last one.
    pub messages: Vec<PromptMessage>,
    /// Longest answer the model may write, in its tokens. The charge reserved up front relies on
    /// it, so adapters MUST pass it on.
    pub max_tokens: u32,
    /// Sampling temperature, when the client chose one.
    pub temperature: Option<f32>,
}

/// Tokens the model counted for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Tokens of the request's messages.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The answer's text.
    pub text: String,
    /// The model that wrote it, as the upstream names it.
    pub model: String,
    /// The upstream's token counts, when it reported them.
    pub usage: Option<Usage>,
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamPiece {
    /// More text, in order.
    Delta(String),
    /// The answer is complete. The last item of a successful stream, sent exactly once.
    Finished {
        /// The model that wrote it.
        model: String,
        /// The upstream's token counts, when it reported them.
        usage: Option<Usage>,
    },
}

/// A streamed answer. It ends after [`StreamPiece::Finished`] or after its first `Err`. Dropping
/// it MUST cancel the upstream request (close its connection), so a client that went away stops
/// costing model time.
pub type CompletionStream =
    Pin<Box<dyn Stream<Item = Result<StreamPiece, ResponderError>> + Send + 'static>>;

/// The model gave no (complete) answer. The charge then follows the pricing policy: a failure
/// before any answer is never charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponderError {
    /// The model answered with an error, an unreadable body, or could not be reached (HTTP 502).
    /// The text is for logs only: it may quote the upstream.
    #[error("responder failed: {0}")]
    Failed(String),
    /// The model did not answer, or stalled, within the configured time (HTTP 504).
    #[error("responder timed out")]
    Timeout,
    /// Too many answers are being written at once; nothing was sent upstream (HTTP 503).
    #[error("responder busy")]
    Busy {
        /// When to try again.
        retry_after_secs: u64,
    },
}

/// Produces answers. Implementations need not enforce timeouts or concurrency limits: the
/// composition root wraps every responder in adapters that do.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Responder: Send + Sync {
    /// The model this responder answers with, as clients name it (`GET /v1/models`).
    fn model(&self) -> String;

    /// The whole answer to `request`.
    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError>;

    /// The answer to `request`, piece by piece as the model writes it. An `Err` here means
    /// nothing was produced.
    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError>;
}
