//! The sweeper: refunds charges that a crash left pending past their deadline.

use std::sync::Arc;

use ports::{ChatMetrics, ChatRepository, Clock, NoMetrics, RefundCause};

use crate::AppError;

/// Refunds expired pending charges. Safe to run in every process at once: each refund is a
/// conditional update on a still-pending charge whose deadline has passed, and a live request's
/// deadline lies beyond its responder timeout.
pub struct SweepExpiredCharges {
    chats: Arc<dyn ChatRepository>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn ChatMetrics>,
}

impl SweepExpiredCharges {
    /// Wires the use case.
    pub fn new(chats: Arc<dyn ChatRepository>, clock: Arc<dyn Clock>) -> Self {
        Self {
            chats,
            clock,
            metrics: Arc::new(NoMetrics),
        }
    }

    /// Reports the refunds to `metrics` (cause [`RefundCause::Expired`]).
    pub fn with_metrics(mut self, metrics: Arc<dyn ChatMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// One sweep; returns how many charges were refunded.
    pub async fn execute(&self) -> Result<u64, AppError> {
        let refunded = self.chats.refund_expired(self.clock.now()).await?;
        if refunded > 0 {
            self.metrics.refunded(RefundCause::Expired, refunded);
            tracing::warn!(
                refunded,
                "refunded charges left pending past their deadline"
            );
        }
        Ok(refunded)
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockChatMetrics, MockChatRepository};

    use super::*;
    use crate::test_support::{fixed_clock, noon};

    #[test]
    fn refunds_what_expired_before_now() {
        let mut chats = MockChatRepository::new();
        chats
            .expect_refund_expired()
            .withf(|now| *now == noon())
            .times(1)
            .returning(|_| Ok(3));
        let mut metrics = MockChatMetrics::new();
        metrics
            .expect_refunded()
            .withf(|cause, count| *cause == RefundCause::Expired && *count == 3)
            .times(1)
            .return_const(());
        let sweep = SweepExpiredCharges::new(Arc::new(chats), fixed_clock())
            .with_metrics(Arc::new(metrics));
        assert_eq!(block_on(sweep.execute()), Ok(3));
    }
}
