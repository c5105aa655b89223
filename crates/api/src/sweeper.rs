//! The background task that refunds charges a crash left pending (DESIGN.md §3, invariant 4).

use std::{sync::Arc, time::Duration};

use application::SweepExpiredCharges;

/// Sweeps once now, then every `interval`, until the runtime stops.
pub fn spawn(sweep: Arc<SweepExpiredCharges>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = sweep.execute().await {
                tracing::warn!(%error, "charge sweep failed; retrying next interval");
            }
        }
    })
}
