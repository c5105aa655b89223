//! A stand-in for the AI model: answers at once, deterministically, from the message alone.

use async_trait::async_trait;
use domain::ChatMessage;
use ports::{Responder, ResponderError};

/// Echoes the message with a little arithmetic, so tests can predict every answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct DummyResponder;

impl DummyResponder {
    /// The answer for `message`.
    pub fn answer(message: &str) -> String {
        let words = message.split_whitespace().count();
        let characters = message.chars().count();
        format!(
            "You said: \"{message}\" ({words} words, {characters} characters). This is a dummy response."
        )
    }
}

#[async_trait]
impl Responder for DummyResponder {
    async fn respond(&self, message: &ChatMessage) -> Result<String, ResponderError> {
        Ok(Self::answer(message.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_deterministically_from_the_message() {
        let message = ChatMessage::parse("Hello, how are you?").unwrap();
        let first = DummyResponder.respond(&message).await.unwrap();
        assert_eq!(first, DummyResponder.respond(&message).await.unwrap());
        assert_eq!(
            first,
            "You said: \"Hello, how are you?\" (4 words, 19 characters). This is a dummy response."
        );
    }
}
