//! Maintenance that runs beside the HTTP server in every process: the charge sweeper (refunds
//! charges a crash left pending, so a chat is charged only if it was stored) and the pruner of expired token
//! revocations and stale throttle events. Running them in every replica at once is safe: each of
//! their writes is a conditional update or delete.

use std::{future::Future, time::Duration};

use application::AppError;
use tokio::task::JoinHandle;

/// Runs `job` once now, then every `interval`, until the runtime stops. A failed run is logged and
/// retried at the next tick: both jobs only ever catch up on work a later run can still do.
pub fn spawn_periodic<F, Fut, T>(name: &'static str, interval: Duration, job: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = job().await {
                log_failure(name, &error);
            }
        }
    })
}

/// A bug is logged at `error` with its cause (an `AppError::Internal` displays only "internal
/// error", the text clients get); an outage at `warn`, its cause already logged by storage.
fn log_failure(job: &'static str, error: &AppError) {
    match error {
        AppError::Internal(reason) => {
            tracing::error!(%reason, job, "background job failed; retrying next interval");
        }
        other => {
            tracing::warn!(error = %other, job, "background job failed; retrying next interval")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_capture::logs_of;

    #[test]
    fn a_failed_job_logs_a_bug_with_its_cause_and_an_outage_as_a_warning() {
        let cause = "no such table: chat_charges";
        let ((), logs) =
            logs_of(|| log_failure("charge sweeper", &AppError::Internal(cause.into())));
        assert!(logs.contains("ERROR") && logs.contains(cause), "{logs}");
        let ((), logs) = logs_of(|| log_failure("charge sweeper", &AppError::StorageUnavailable));
        assert!(
            logs.contains("WARN") && logs.contains("charge sweeper"),
            "{logs}"
        );
    }
}
