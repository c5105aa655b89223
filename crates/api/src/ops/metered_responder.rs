//! Responder latency and errors, measured around the responder the service is wired with (the
//! timeout wrapper included, so a timeout counts as an error after its full wait).

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, StreamPiece,
};

use super::Metrics;

/// Wraps a responder and reports every call to [`Metrics::observe_responder`]: a whole answer
/// when it arrives or fails; a stream when it finishes or fails (a stream dropped unfinished, its
/// client gone, is not timed).
pub struct MeteredResponder {
    inner: Arc<dyn Responder>,
    metrics: Arc<Metrics>,
}

impl MeteredResponder {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Responder>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl Responder for MeteredResponder {
    fn model(&self) -> String {
        self.inner.model()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        let started = Instant::now();
        let result = self.inner.complete(request).await;
        self.metrics
            .observe_responder(started.elapsed(), result.as_ref().err());
        result
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let started = Instant::now();
        let pieces = match self.inner.stream(request).await {
            Ok(pieces) => pieces,
            Err(error) => {
                self.metrics
                    .observe_responder(started.elapsed(), Some(&error));
                return Err(error);
            }
        };
        let metrics = self.metrics.clone();
        Ok(Box::pin(pieces.inspect(move |piece| match piece {
            Ok(StreamPiece::Finished { .. }) => metrics.observe_responder(started.elapsed(), None),
            Err(error) => metrics.observe_responder(started.elapsed(), Some(error)),
            Ok(StreamPiece::Delta(_)) => {}
        })))
    }
}

#[cfg(test)]
mod tests {
    use adapters::responder::DummyResponder;
    use ports::{PromptMessage, Role};

    use super::*;

    struct Failing;

    #[async_trait]
    impl Responder for Failing {
        fn model(&self) -> String {
            "failing".into()
        }

        async fn complete(&self, _: CompletionRequest) -> Result<Completion, ResponderError> {
            Err(ResponderError::Failed("upstream 500".into()))
        }

        async fn stream(&self, _: CompletionRequest) -> Result<CompletionStream, ResponderError> {
            Err(ResponderError::Busy {
                retry_after_secs: 1,
            })
        }
    }

    fn request() -> CompletionRequest {
        CompletionRequest {
            messages: vec![PromptMessage::new(Role::User, "hi")],
            max_tokens: 16,
            temperature: None,
        }
    }

    fn line(metrics: &Metrics, start: &str) -> String {
        metrics
            .render()
            .unwrap()
            .lines()
            .find(|line| line.starts_with(start))
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn answers_streams_and_failures_are_timed_and_failures_counted() {
        let metrics = Arc::new(Metrics::new(None).unwrap());
        let dummy = MeteredResponder::new(Arc::new(DummyResponder::new()), metrics.clone());
        assert!(dummy.complete(request()).await.is_ok());
        let pieces: Vec<_> = dummy.stream(request()).await.unwrap().collect().await;
        assert!(pieces.iter().all(Result::is_ok));
        let failing = MeteredResponder::new(Arc::new(Failing), metrics.clone());
        assert!(failing.complete(request()).await.is_err());
        assert!(failing.stream(request()).await.is_err());
        assert_eq!(
            line(&metrics, "responder_duration_seconds_count"),
            "responder_duration_seconds_count 4"
        );
        assert!(line(&metrics, r#"responder_errors_total{error="failed"}"#).ends_with(" 1"));
        assert!(line(&metrics, r#"responder_errors_total{error="busy"}"#).ends_with(" 1"));
        assert!(line(&metrics, r#"responder_errors_total{error="timeout"}"#).ends_with(" 0"));
    }
}
