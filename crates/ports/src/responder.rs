//! The AI model behind the chat. Today a deterministic dummy; tomorrow a remote model, hence async.

use async_trait::async_trait;
use domain::ChatMessage;

/// The model gave no answer. Either way the user is not charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponderError {
    /// The model answered with an error or could not be reached (HTTP 502).
    #[error("responder failed: {0}")]
    Failed(String),
    /// The model did not answer within the configured time (HTTP 504).
    #[error("responder timed out")]
    Timeout,
}

/// Produces the answer to one chat message.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Responder: Send + Sync {
    /// The response text for `message`. Implementations need not enforce the configured timeout:
    /// the composition root wraps every responder in one that does.
    async fn respond(&self, message: &ChatMessage) -> Result<String, ResponderError>;
}
