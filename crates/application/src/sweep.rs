//! The sweeper: refunds charges that a crash left pending past their deadline.

use std::sync::Arc;

use ports::{ChatRepository, Clock};

use crate::AppError;

/// Refunds expired pending charges. Safe to run in every process at once: each refund is a
/// conditional update on a still-pending charge whose deadline has passed, and a live request's
/// deadline lies beyond its responder timeout.
pub struct SweepExpiredCharges {
    chats: Arc<dyn ChatRepository>,
    clock: Arc<dyn Clock>,
}

impl SweepExpiredCharges {
    /// Wires the use case.
    pub fn new(chats: Arc<dyn ChatRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { chats, clock }
    }

    /// One sweep; returns how many charges were refunded.
    pub async fn execute(&self) -> Result<u64, AppError> {
        let refunded = self.chats.refund_expired(self.clock.now()).await?;
        if refunded > 0 {
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
    use ports::MockChatRepository;

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
        let sweep = SweepExpiredCharges::new(Arc::new(chats), fixed_clock());
        assert_eq!(block_on(sweep.execute()), Ok(3));
    }
}
