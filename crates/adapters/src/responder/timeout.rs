//! Bounds every responder call, so a hung or endless model cannot hold a charge (or a client)
//! forever.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use ports::{Completion, CompletionRequest, CompletionStream, Responder, ResponderError};
use tokio::time::{Instant, timeout_at};

/// Wraps a responder in two limits. `first_byte`: the first piece of a stream, and each next
/// one, must come within it of the call's start or of the previous piece; a whole answer's first
/// byte is its end, so it bounds [`Responder::complete`] too. `whole`: no answer, whole or
/// streamed, lasts longer. A call past either fails with `Timeout`; a stream then ends and the
/// inner one is dropped (which cancels the upstream request).
pub struct TimeoutResponder {
    inner: Arc<dyn Responder>,
    first_byte: Duration,
    whole: Duration,
}

impl TimeoutResponder {
    /// Wraps `inner` with a `first_byte` (and gap) limit and a `whole`-answer limit.
    pub fn new(inner: Arc<dyn Responder>, first_byte: Duration, whole: Duration) -> Self {
        Self {
            inner,
            first_byte,
            whole,
        }
    }
}

/// The instant `limit` after `start`, or one so far ahead it never comes.
fn after(start: Instant, limit: Duration) -> Instant {
    start
        .checked_add(limit)
        .unwrap_or_else(|| start + Duration::from_secs(86_400 * 365))
}

#[async_trait]
impl Responder for TimeoutResponder {
    fn model(&self) -> String {
        self.inner.model()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        let deadline = after(Instant::now(), self.first_byte.min(self.whole));
        timeout_at(deadline, self.inner.complete(request))
            .await
            .unwrap_or(Err(ResponderError::Timeout))
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let start = Instant::now();
        let end = after(start, self.whole);
        let first_byte = self.first_byte;
        let inner = timeout_at(
            after(start, first_byte).min(end),
            self.inner.stream(request),
        )
        .await
        .unwrap_or(Err(ResponderError::Timeout))?;
        // The first piece is due `first_byte` after the call began, each later one that long
        // after the previous; none after `end`. After an error (a timeout included) the stream
        // ends: nothing more is read upstream.
        let pieces = stream::unfold(Some((inner, start)), move |state| async move {
            let (mut inner, previous) = state?;
            let deadline = after(previous, first_byte).min(end);
            match timeout_at(deadline, inner.next()).await {
                Ok(Some(Ok(piece))) => Some((Ok(piece), Some((inner, Instant::now())))),
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

    const SECS_30: Duration = Duration::from_secs(30);
    const SECS_300: Duration = Duration::from_secs(300);

    /// Starts after `start_after`, then writes a delta every `every`, forever.
    struct Trickle {
        start_after: Duration,
        every: Duration,
    }

    #[async_trait]
    impl Responder for Trickle {
        fn model(&self) -> String {
            "trickle".into()
        }

        async fn complete(&self, _: CompletionRequest) -> Result<Completion, ResponderError> {
            std::future::pending().await
        }

        async fn stream(&self, _: CompletionRequest) -> Result<CompletionStream, ResponderError> {
            tokio::time::sleep(self.start_after).await;
            let every = self.every;
            Ok(Box::pin(stream::unfold((), move |()| async move {
                tokio::time::sleep(every).await;
                Some((Ok(StreamPiece::Delta("x".into())), ()))
            })))
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
        let responder = TimeoutResponder::new(Arc::new(Stalled), SECS_30, SECS_300);
        assert_eq!(
            responder.complete(request()).await,
            Err(ResponderError::Timeout)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_goes_silent_ends_with_a_timeout() {
        let responder = TimeoutResponder::new(Arc::new(Stalled), SECS_30, SECS_300);
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
        let responder = TimeoutResponder::new(Arc::new(DummyResponder::new()), SECS_30, SECS_300);
        assert!(
            responder
                .complete(request())
                .await
                .is_ok_and(|c| c.text.contains("hi"))
        );
        assert_eq!(responder.model(), "dummy");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_never_stops_ends_with_a_timeout_at_the_whole_answer_limit() {
        let trickle = Trickle {
            start_after: Duration::ZERO,
            every: Duration::from_secs(7),
        };
        let responder = TimeoutResponder::new(Arc::new(trickle), SECS_30, Duration::from_secs(60));
        let start = Instant::now();
        let pieces: Vec<_> = responder.stream(request()).await.unwrap().collect().await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        let (last, deltas) = pieces.split_last().unwrap();
        assert_eq!(last, &Err(ResponderError::Timeout));
        assert_eq!(deltas.len(), 8, "a delta at 7, 14, ..., 56 s");
        assert!(deltas.iter().all(Result::is_ok));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_piece_is_due_from_the_start_of_the_call() {
        let trickle = Trickle {
            start_after: Duration::from_secs(20),
            every: Duration::from_secs(20),
        };
        let responder = TimeoutResponder::new(Arc::new(trickle), SECS_30, SECS_300);
        let start = Instant::now();
        let pieces: Vec<_> = responder.stream(request()).await.unwrap().collect().await;
        assert_eq!(pieces, vec![Err(ResponderError::Timeout)]);
        assert_eq!(start.elapsed(), SECS_30);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_cannot_start_within_the_limit_is_a_timeout() {
        let trickle = Trickle {
            start_after: Duration::from_secs(31),
            every: Duration::from_secs(1),
        };
        let responder = TimeoutResponder::new(Arc::new(trickle), SECS_30, SECS_300);
        assert!(matches!(
            responder.stream(request()).await,
            Err(ResponderError::Timeout)
        ));
    }
}
