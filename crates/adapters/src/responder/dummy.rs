//! A stand-in for the AI model: answers deterministically from the last message alone, at once
//! or (for demos and tests of streaming) word by word with a pause before each word.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, StreamPiece, Usage,
};

/// Echoes the message with a little arithmetic, so tests can predict every answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct DummyResponder {
    word_delay: Duration,
}

impl DummyResponder {
    /// The model name clients see.
    pub const MODEL: &'static str = "dummy";

    /// A dummy that answers at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// A dummy that pauses `delay` before each word it writes (`responder.dummy_delay_ms`): a
    /// stream then shows its pieces arriving, and a whole answer takes as long as its stream.
    pub fn with_word_delay(delay: Duration) -> Self {
        Self { word_delay: delay }
    }

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
        let completion = Self::complete_now(&request);
        if !self.word_delay.is_zero() {
            let words = completion.text.split(' ').count();
            tokio::time::sleep(self.word_delay * u32::try_from(words).unwrap_or(u32::MAX)).await;
        }
        Ok(completion)
    }

    /// The answer word by word (each delta but the first starts with a space), then `Finished`;
    /// each word after the configured pause.
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
        let pieces = stream::iter(pieces);
        if self.word_delay.is_zero() {
            return Ok(Box::pin(pieces));
        }
        let delay = self.word_delay;
        Ok(Box::pin(pieces.then(move |piece| async move {
            if matches!(piece, Ok(StreamPiece::Delta(_))) {
                tokio::time::sleep(delay).await;
            }
            piece
        })))
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
        let first = DummyResponder::new()
            .complete(request("Hello, how are you?"))
            .await
            .unwrap();
        assert_eq!(
            first,
            DummyResponder::new()
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
        let whole = DummyResponder::new()
            .complete(request("hi there"))
            .await
            .unwrap();
        let pieces: Vec<_> = DummyResponder::new()
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

    #[tokio::test(start_paused = true)]
    async fn a_slow_dummy_pauses_before_every_word() {
        let delay = Duration::from_millis(100);
        let slow = DummyResponder::with_word_delay(delay);
        let started = tokio::time::Instant::now();
        let mut pieces = slow.stream(request("hi")).await.unwrap();
        let mut arrivals = Vec::new();
        while let Some(piece) = pieces.next().await {
            if let Ok(StreamPiece::Delta(_)) = piece {
                arrivals.push(started.elapsed());
            }
        }
        let expected: Vec<_> = (1..=arrivals.len() as u32).map(|n| delay * n).collect();
        assert_eq!(arrivals, expected);
        let words = arrivals.len() as u32;
        let started = tokio::time::Instant::now();
        slow.complete(request("hi")).await.unwrap();
        assert_eq!(started.elapsed(), delay * words, "as long as the stream");
    }
}
