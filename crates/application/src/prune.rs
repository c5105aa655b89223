//! Forgetting security records nobody needs any more: revocations of tokens that have expired
//! anyway, throttle events older than every window, and login sources whose exemption has run
//! out. Keeps those tables small.

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
    /// Known login sources.
    pub login_sources: u64,
}

/// Prunes expired revocations and stale throttle events; run periodically by the server.
pub struct PruneSecurityRecords {
    revocations: Arc<dyn RevocationRepository>,
    throttle: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
    longest_window: Duration,
    known_source_for: Duration,
}

impl PruneSecurityRecords {
    /// Wires the use case. Throttle events are kept for `longest_window` (the longest configured
    /// throttle window), so no window ever loses an event it still counts; login sources for
    /// `known_source_for`, as long as they exempt anything.
    pub fn new(
        revocations: Arc<dyn RevocationRepository>,
        throttle: Arc<dyn ThrottleRepository>,
        clock: Arc<dyn Clock>,
        longest_window: Duration,
        known_source_for: Duration,
    ) -> Self {
        Self {
            revocations,
            throttle,
            clock,
            longest_window,
            known_source_for,
        }
    }

    /// Prunes once. Safe with several processes: deletes are idempotent.
    pub async fn execute(&self) -> Result<Pruned, AppError> {
        let now = self.clock.now();
        let ago = |kept: Duration| {
            let kept = chrono::Duration::from_std(kept).unwrap_or(chrono::Duration::MAX);
            now.checked_sub_signed(kept)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
        };
        let revocations = self.revocations.prune_revocations(now).await?;
        let throttle_events = self.throttle.prune_events(ago(self.longest_window)).await?;
        let login_sources = self
            .throttle
            .prune_sources(ago(self.known_source_for))
            .await?;
        if revocations + throttle_events + login_sources > 0 {
            tracing::info!(
                revocations,
                throttle_events,
                login_sources,
                "pruned expired security records"
            );
        }
        Ok(Pruned {
            revocations,
            throttle_events,
            login_sources,
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
    fn revocations_are_pruned_at_now_events_after_the_longest_window_and_sources_after_theirs() {
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
        throttle
            .expect_prune_sources()
            .withf(|before| *before == noon() - chrono::Duration::days(30))
            .times(1)
            .returning(|_| Ok(4));
        let prune = PruneSecurityRecords::new(
            Arc::new(revocations),
            Arc::new(throttle),
            fixed_clock(),
            Duration::from_secs(3600),
            Duration::from_secs(30 * 24 * 3600),
        );
        assert_eq!(
            block_on(prune.execute()),
            Ok(Pruned {
                revocations: 2,
                throttle_events: 7,
                login_sources: 4
            })
        );
    }
}
