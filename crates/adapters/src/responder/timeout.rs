//! Bounds every responder call, so a hung model cannot hold a charge (or a client) forever.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use domain::ChatMessage;
use ports::{Responder, ResponderError};

/// Wraps a responder; a call that takes longer than `limit` is abandoned with `Timeout`.
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
    async fn respond(&self, message: &ChatMessage) -> Result<String, ResponderError> {
        tokio::time::timeout(self.limit, self.inner.respond(message))
            .await
            .unwrap_or(Err(ResponderError::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stalled;

    #[async_trait]
    impl Responder for Stalled {
        async fn respond(&self, _: &ChatMessage) -> Result<String, ResponderError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_responder_times_out_after_the_limit() {
        let responder = TimeoutResponder::new(Arc::new(Stalled), Duration::from_secs(30));
        let message = ChatMessage::parse("hi").unwrap();
        assert_eq!(
            responder.respond(&message).await,
            Err(ResponderError::Timeout)
        );
    }

    #[tokio::test]
    async fn a_prompt_answer_passes_through() {
        let responder = TimeoutResponder::new(
            Arc::new(crate::responder::DummyResponder),
            Duration::from_secs(30),
        );
        let message = ChatMessage::parse("hi").unwrap();
        assert!(
            responder
                .respond(&message)
                .await
                .is_ok_and(|r| r.contains("hi"))
        );
    }
}
