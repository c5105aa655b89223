//! The background task that deletes expired token revocations and stale throttle events, so the
//! security tables stay as small as the live data they protect.

use std::{sync::Arc, time::Duration};

use application::PruneSecurityRecords;

/// Prunes once now, then every `interval`, until the runtime stops. Failures are logged and
/// retried next interval: stale rows are harmless, only wasteful.
pub fn spawn(prune: Arc<PruneSecurityRecords>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = prune.execute().await {
                tracing::warn!(%error, "security record pruning failed; retrying next interval");
            }
        }
    })
}
