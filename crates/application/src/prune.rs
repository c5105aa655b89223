//! Forgetting security records nobody needs any more: revocations of tokens that have expired
//! anyway, and throttle events older than every window. Keeps both tables small.

use std::{sync::Arc, time::Duration};

use ports::{Clock, RevocationRepository, ThrottleRepository};

use crate::AppError;

/// What one prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Revocation rows (tokens and families).
    pub revocations: u64,
    /// Throttle events.
    pub throttle_events: u64,
}

/// Prunes expired revocations and stale throttle events; run periodically by the server.
pub struct PruneSecurityRecords {
    revocations: Arc<dyn RevocationRepository>,
    throttle: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
    longest_window: Duration,
}

impl PruneSecurityRecords {
    /// Wires the use case. Throttle events are kept for `longest_window` (the longest configured
    /// throttle window), so no window ever loses an event it still counts.
    pub fn new(
        revocations: Arc<dyn RevocationRepository>,
        throttle: Arc<dyn ThrottleRepository>,
        clock: Arc<dyn Clock>,
        longest_window: Duration,
    ) -> Self {
        Self {
            revocations,
            throttle,
            clock,
            longest_window,
        }
    }

    /// Prunes once. Safe with several processes: deletes are idempotent.
    pub async fn execute(&self) -> Result<Pruned, AppError> {
        let now = self.clock.now();
        let revocations = self.revocations.prune_revocations(now).await?;
        let window =
            chrono::Duration::from_std(self.longest_window).unwrap_or(chrono::Duration::MAX);
        let before = now
            .checked_sub_signed(window)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let throttle_events = self.throttle.prune_events(before).await?;
        if revocations + throttle_events > 0 {
            tracing::info!(
                revocations,
                throttle_events,
                "pruned expired security records"
            );
        }
        Ok(Pruned {
            revocations,
            throttle_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockRevocationRepository, MockThrottleRepository};

    use super::*;
    use crate::test_support::{fixed_clock, noon};

    #[test]
    fn revocations_are_pruned_at_now_and_events_after_the_longest_window() {
        let mut revocations = MockRevocationRepository::new();
        revocations
            .expect_prune_revocations()
            .withf(|now| *now == noon())
            .times(1)
            .returning(|_| Ok(2));
        let mut throttle = MockThrottleRepository::new();
        throttle
            .expect_prune_events()
            .withf(|before| *before == noon() - chrono::Duration::hours(1))
            .times(1)
            .returning(|_| Ok(7));
        let prune = PruneSecurityRecords::new(
            Arc::new(revocations),
            Arc::new(throttle),
            fixed_clock(),
            Duration::from_secs(3600),
        );
        assert_eq!(
            block_on(prune.execute()),
            Ok(Pruned {
                revocations: 2,
                throttle_events: 7
            })
        );
    }
}
