//! chat-api answered by a responder of your own: this one shouts the user's message back.
//!
//! A responder is any type implementing `ports::Responder`; the public builder plugs it in
//! (still wrapped in the configured timeout) and everything else — accounts, the ledger, streaming,
//! the admin panel — stays as configured. Run it like the real server:
//!
//! ```text
//! cargo run -p custom-responder          # serves on 127.0.0.1:8000, SQLite chat-api.db
//! ```
//!
//! See `docs/adapters.md` for the contract a responder must keep, and how to test it.

use std::sync::Arc;

use async_trait::async_trait;
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, StreamPiece,
};

/// Answers every message with the message in capitals.
struct Shouting;

impl Shouting {
    fn answer(request: &CompletionRequest) -> String {
        let last = request.messages.last().map(|m| m.content.as_str());
        last.unwrap_or_default().to_uppercase()
    }
}

#[async_trait]
impl Responder for Shouting {
    fn model(&self) -> String {
        "shouting".into()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        Ok(Completion {
            text: Self::answer(&request),
            model: self.model(),
            // No token counts: per-token pricing then approximates them from the text.
            usage: None,
        })
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let words: Vec<_> = Self::answer(&request)
            .split_inclusive(' ')
            .map(|word| Ok(StreamPiece::Delta(word.to_owned())))
            .collect();
        let finished = Ok(StreamPiece::Finished {
            model: self.model(),
            usage: None,
        });
        Ok(Box::pin(futures_util::stream::iter(
            words.into_iter().chain([finished]),
        )))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = api::Settings::load()?;
    api::telemetry::init(&settings.log);
    let application = api::Application::builder(settings)
        .responder(Arc::new(Shouting))
        .build()
        .await?;
    application.run_until_stopped().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use ports::{PromptMessage, Role};

    use super::*;

    fn request(message: &str) -> CompletionRequest {
        CompletionRequest {
            messages: vec![PromptMessage::new(Role::User, message)],
            max_tokens: 16,
            temperature: None,
        }
    }

    #[tokio::test]
    async fn the_stream_spells_the_whole_answer_then_finishes() -> Result<(), ResponderError> {
        let whole = Shouting.complete(request("hello there")).await?;
        assert_eq!(whole.text, "HELLO THERE");
        let pieces: Vec<_> = Shouting
            .stream(request("hello there"))
            .await?
            .collect()
            .await;
        let mut text = String::new();
        for piece in &pieces[..pieces.len() - 1] {
            if let Ok(StreamPiece::Delta(delta)) = piece {
                text.push_str(delta);
            }
        }
        assert_eq!(text, whole.text);
        assert!(matches!(
            pieces.last(),
            Some(Ok(StreamPiece::Finished { .. }))
        ));
        Ok(())
    }
}
