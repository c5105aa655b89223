//! Bounds every responder call, so a hung model cannot hold a charge (or a client) forever.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use ports::{Completion, CompletionRequest, CompletionStream, Responder, ResponderError};

/// Wraps a responder: a whole answer, the start of a stream, and every gap between two pieces of
/// a stream must each come within `limit`, or the call fails with `Timeout`.
pub struct TimeoutResponder {
    inner: Arc<dyn Responder>,
    limit: Duration,
}

impl TimeoutResponder {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Responder>, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

#[async_trait]
impl Responder for TimeoutResponder {
    fn model(&self) -> String {
        self.inner.model()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        tokio::time::timeout(self.limit, self.inner.complete(request))
            .await
            .unwrap_or(Err(ResponderError::Timeout))
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let inner = tokio::time::timeout(self.limit, self.inner.stream(request))
            .await
            .unwrap_or(Err(ResponderError::Timeout))?;
        let limit = self.limit;
        // After an error (a timeout included) the stream ends: nothing more is read upstream.
        let pieces = stream::unfold(Some(inner), move |state| async move {
            let mut inner = state?;
            match tokio::time::timeout(limit, inner.next()).await {
                Ok(Some(Ok(piece))) => Some((Ok(piece), Some(inner))),
                Ok(Some(Err(error))) => Some((Err(error), None)),
                Ok(None) => None,
                Err(_elapsed) => Some((Err(ResponderError::Timeout), None)),
            }
        });
        Ok(Box::pin(pieces) as CompletionStream)
    }
}

#[cfg(test)]
mod tests {
    use ports::{PromptMessage, Role, StreamPiece};

    use super::*;
    use crate::responder::DummyResponder;

    struct Stalled;

    #[async_trait]
    impl Responder for Stalled {
        fn model(&self) -> String {
            "stalled".into()
        }

        async fn complete(&self, _: CompletionRequest) -> Result<Completion, ResponderError> {
            std::future::pending().await
        }

        /// One delta, then silence.
        async fn stream(&self, _: CompletionRequest) -> Result<CompletionStream, ResponderError> {
            let first = stream::iter([Ok(StreamPiece::Delta("partial".into()))]);
            Ok(Box::pin(first.chain(stream::pending())))
        }
    }

    fn request() -> CompletionRequest {
        CompletionRequest {
            messages: vec![PromptMessage::new(Role::User, "hi")],
            max_tokens: 16,
            temperature: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_responder_times_out_after_the_limit() {
        let responder = TimeoutResponder::new(Arc::new(Stalled), Duration::from_secs(30));
        assert_eq!(
            responder.complete(request()).await,
            Err(ResponderError::Timeout)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_goes_silent_ends_with_a_timeout() {
        let responder = TimeoutResponder::new(Arc::new(Stalled), Duration::from_secs(30));
        let pieces: Vec<_> = responder.stream(request()).await.unwrap().collect().await;
        assert_eq!(
            pieces,
            vec![
                Ok(StreamPiece::Delta("partial".into())),
                Err(ResponderError::Timeout)
            ]
        );
    }

    #[tokio::test]
    async fn a_prompt_answer_passes_through() {
        let responder = TimeoutResponder::new(Arc::new(DummyResponder), Duration::from_secs(30));
        assert!(
            responder
                .complete(request())
                .await
                .is_ok_and(|c| c.text.contains("hi"))
        );
        assert_eq!(responder.model(), "dummy");
    }
}
