//! A stand-in for the AI model: answers at once, deterministically, from the last message alone.

use async_trait::async_trait;
use futures_util::stream;
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, StreamPiece, Usage,
};

/// Echoes the message with a little arithmetic, so tests can predict every answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct DummyResponder;

impl DummyResponder {
    /// The model name clients see.
    pub const MODEL: &'static str = "dummy";

    /// The answer for `message`.
    pub fn answer(message: &str) -> String {
        let words = message.split_whitespace().count();
        let characters = message.chars().count();
        format!(
            "You said: \"{message}\" ({words} words, {characters} characters). This is a dummy response."
        )
    }

    /// The dummy's documented token count: whitespace-separated words, of every message for the
    /// prompt and of the answer for the completion.
    pub fn usage(request: &CompletionRequest, answer: &str) -> Usage {
        let words = |text: &str| text.split_whitespace().count() as u64;
        Usage {
            prompt_tokens: request.messages.iter().map(|m| words(&m.content)).sum(),
            completion_tokens: words(answer),
        }
    }

    fn complete_now(request: &CompletionRequest) -> Completion {
        let last = request
            .messages
            .last()
            .map(|message| message.content.as_str())
            .unwrap_or_default();
        let text = Self::answer(last);
        Completion {
            usage: Some(Self::usage(request, &text)),
            model: Self::MODEL.to_owned(),
            text,
        }
    }
}

#[async_trait]
impl Responder for DummyResponder {
    fn model(&self) -> String {
        Self::MODEL.to_owned()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        Ok(Self::complete_now(&request))
    }

    /// The answer word by word (each delta but the first starts with a space), then `Finished`.
    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let completion = Self::complete_now(&request);
        let mut pieces: Vec<Result<StreamPiece, ResponderError>> = completion
            .text
            .split(' ')
            .enumerate()
            .map(|(i, word)| {
                Ok(StreamPiece::Delta(if i == 0 {
                    word.to_owned()
                } else {
                    format!(" {word}")
                }))
            })
            .collect();
        pieces.push(Ok(StreamPiece::Finished {
            model: completion.model,
            usage: completion.usage,
        }));
        Ok(Box::pin(stream::iter(pieces)))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use ports::{PromptMessage, Role};

    use super::*;

    fn request(message: &str) -> CompletionRequest {
        CompletionRequest {
            messages: vec![
                PromptMessage::new(Role::System, "be brief"),
                PromptMessage::new(Role::User, message),
            ],
            max_tokens: 512,
            temperature: None,
        }
    }

    #[tokio::test]
    async fn answers_the_last_message_deterministically_with_word_counts() {
        let first = DummyResponder
            .complete(request("Hello, how are you?"))
            .await
            .unwrap();
        assert_eq!(
            first,
            DummyResponder
                .complete(request("Hello, how are you?"))
                .await
                .unwrap()
        );
        assert_eq!(
            first.text,
            "You said: \"Hello, how are you?\" (4 words, 19 characters). This is a dummy response."
        );
        assert_eq!(first.model, "dummy");
        assert_eq!(
            first.usage,
            Some(Usage {
                prompt_tokens: 6,
                completion_tokens: 15
            })
        );
    }

    #[tokio::test]
    async fn the_stream_joins_to_the_whole_answer_and_ends_with_its_usage() {
        let whole = DummyResponder.complete(request("hi there")).await.unwrap();
        let pieces: Vec<_> = DummyResponder
            .stream(request("hi there"))
            .await
            .unwrap()
            .collect()
            .await;
        let (last, deltas) = pieces.split_last().unwrap();
        let text: String = deltas
            .iter()
            .map(|piece| match piece {
                Ok(StreamPiece::Delta(text)) => text.as_str(),
                other => panic!("expected a delta, got {other:?}"),
            })
            .collect();
        assert_eq!(text, whole.text);
        assert!(deltas.len() > 1, "word by word");
        assert_eq!(
            last,
            &Ok(StreamPiece::Finished {
                model: "dummy".into(),
                usage: whole.usage
            })
        );
    }
}
