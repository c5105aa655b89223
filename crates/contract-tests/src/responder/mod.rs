//! The responder contract: what every [`ports::Responder`] promises (see the port's doc
//! comments), checked through the trait alone.
//!
//! Each `pub async fn` in the modules below is one contract test taking a ready responder. Some
//! compare a whole answer with a streamed one to the same request, so run the contract against
//! a deterministic model: the dummy, a stub server, or a real model at temperature 0 that
//! answers the same question the same way. [`crate::responder_tests!`] runs them all against a
//! [`ResponderFactory`].

pub mod answers;
pub mod streams;

use std::{future::Future, sync::Arc};

use futures_util::StreamExt;
use ports::{CompletionRequest, PromptMessage, Responder, ResponderError, Role, StreamPiece};

/// Makes the responders the contract runs on: one per contract test.
pub trait ResponderFactory {
    /// Whatever keeps a responder's resources alive while its test runs (a stub server, say);
    /// dropped when the test ends.
    type Guard;

    /// A ready responder, or `None` when this adapter cannot run here, having said so in a
    /// visible skip message naming `test`.
    fn create(&self, test: &str)
    -> impl Future<Output = Option<(Arc<dyn Responder>, Self::Guard)>>;
}

/// Runs one contract test, named `test`, on a responder from `factory`.
pub async fn run<F, C, R>(factory: F, test: &str, contract: C)
where
    F: ResponderFactory,
    C: FnOnce(Arc<dyn Responder>) -> R,
    R: Future<Output = ()>,
{
    if let Some((responder, guard)) = factory.create(test).await {
        contract(responder).await;
        drop(guard);
    }
}

/// The longest answer the contract asks for, in model tokens.
pub const MAX_TOKENS: u32 = 64;

/// A system prompt, one earlier exchange and `message`, as the chat use case sends them.
pub fn request(message: &str) -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            PromptMessage::new(Role::System, "Answer in a few words."),
            PromptMessage::new(Role::User, "Hello"),
            PromptMessage::new(Role::Assistant, "Hello! How can I help?"),
            PromptMessage::new(Role::User, message),
        ],
        max_tokens: MAX_TOKENS,
        temperature: Some(0.0),
    }
}

/// Every item of a stream, to its end.
pub async fn collect(
    responder: &dyn Responder,
    request: CompletionRequest,
) -> Vec<Result<StreamPiece, ResponderError>> {
    responder
        .stream(request)
        .await
        .expect("the stream starts")
        .collect()
        .await
}
