//! Maintenance that runs beside the HTTP server in every process: the charge sweeper (DESIGN.md
//! §3, invariant 4: refunds charges a crash left pending) and the pruner of expired token
//! revocations and stale throttle events. Running them in every replica at once is safe: each of
//! their writes is a conditional update or delete.

use std::{fmt::Display, future::Future, time::Duration};

use tokio::task::JoinHandle;

/// Runs `job` once now, then every `interval`, until the runtime stops. A failed run is logged and
/// retried at the next tick: both jobs only ever catch up on work a later run can still do.
pub fn spawn_periodic<F, Fut, T, E>(
    name: &'static str,
    interval: Duration,
    job: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    E: Display,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = job().await {
                tracing::warn!(%error, job = name, "background job failed; retrying next interval");
            }
        }
    })
}
