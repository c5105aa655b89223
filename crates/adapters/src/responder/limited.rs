//! At most N answers in the making at once per process, so a burst of chats cannot open
//! unbounded upstream connections (or exceed what the model server serves well).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use futures_util::StreamExt;
use ports::{Completion, CompletionRequest, CompletionStream, Responder, ResponderError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a call waits for a free slot before it is refused as busy: long enough to ride out
/// a slot being handed over, short enough that a saturated service answers promptly.
pub const SLOT_WAIT: Duration = Duration::from_millis(200);

/// The `Retry-After` a refused call suggests.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Wraps a responder: each call holds one of `max_concurrency` slots for as long as it runs (a
/// stream, until it is dropped). A call that gets no slot within the wait fails with `Busy`
/// without reaching the inner responder.
pub struct LimitedResponder {
    inner: Arc<dyn Responder>,
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl LimitedResponder {
    /// Wraps `inner` with `max_concurrency` slots (at least one) and a bounded `wait` for one.
    pub fn new(inner: Arc<dyn Responder>, max_concurrency: usize, wait: Duration) -> Self {
        let slots = max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Arc::new(Semaphore::new(slots)),
            wait,
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, ResponderError> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the only way here in practice.
            Ok(Err(_)) | Err(_) => {
                tracing::info!("every responder slot is taken; refusing the call as busy");
                Err(ResponderError::Busy {
                    retry_after_secs: BUSY_RETRY_AFTER_SECS,
                })
            }
        }
    }
}

#[async_trait]
impl Responder for LimitedResponder {
    fn model(&self) -> String {
        self.inner.model()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        let _slot = self.slot().await?;
        self.inner.complete(request).await
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let slot = self.slot().await?;
        let pieces = self.inner.stream(request).await?;
        // The slot lives in the closure, so it is released when the stream is dropped.
        Ok(Box::pin(pieces.map(move |piece| {
            let _held = &slot;
            piece
        })))
    }
}

#[cfg(test)]
mod tests {
    use ports::{PromptMessage, Role, StreamPiece};
    use tokio::sync::Notify;

    use super::*;
    use crate::responder::DummyResponder;

    fn request() -> CompletionRequest {
        CompletionRequest {
            messages: vec![PromptMessage::new(Role::User, "hi")],
            max_tokens: 16,
            temperature: None,
        }
    }

    /// Answers once `release` is notified; tells `entered` when a call arrives.
    struct Held {
        entered: Notify,
        release: Notify,
    }

    #[async_trait]
    impl Responder for Held {
        fn model(&self) -> String {
            "held".into()
        }

        async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
            self.entered.notify_one();
            self.release.notified().await;
            DummyResponder::new().complete(request).await
        }

        async fn stream(
            &self,
            request: CompletionRequest,
        ) -> Result<CompletionStream, ResponderError> {
            DummyResponder::new().stream(request).await
        }
    }

    #[tokio::test]
    async fn a_call_that_finds_every_slot_taken_is_busy_and_the_next_one_after_is_served() {
        let held = Arc::new(Held {
            entered: Notify::new(),
            release: Notify::new(),
        });
        let limited = Arc::new(LimitedResponder::new(held.clone(), 1, SLOT_WAIT));
        let first = tokio::spawn({
            let limited = limited.clone();
            async move { limited.complete(request()).await }
        });
        held.entered.notified().await;
        assert_eq!(
            limited.complete(request()).await,
            Err(ResponderError::Busy {
                retry_after_secs: 1
            })
        );
        held.release.notify_one();
        assert!(first.await.unwrap().is_ok());
        assert_eq!(limited.available(), 1, "the slot is back after the call");
        assert!(limited.stream(request()).await.is_ok());
    }

    #[tokio::test]
    async fn a_stream_holds_its_slot_until_dropped() {
        let limited = LimitedResponder::new(Arc::new(DummyResponder::new()), 2, SLOT_WAIT);
        let mut stream = limited.stream(request()).await.unwrap();
        assert!(matches!(
            stream.next().await,
            Some(Ok(StreamPiece::Delta(_)))
        ));
        assert_eq!(limited.available(), 1);
        let other = limited.stream(request()).await.unwrap();
        assert!(matches!(
            limited.stream(request()).await.map(|_| ()),
            Err(ResponderError::Busy { .. })
        ));
        drop(stream);
        assert_eq!(limited.available(), 1);
        drop(other);
        assert_eq!(limited.available(), 2);
    }
}
