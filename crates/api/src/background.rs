//! Maintenance that runs beside the HTTP server in every process: the charge sweeper (refunds
//! charges a crash left pending, so a chat is charged only if it was stored), the pruner of
//! expired token revocations and stale throttle events, and the ledger audit behind the
//! `ledger_drift` metric. Running them in every replica at once is safe: the writes are
//! conditional updates or deletes, the audit only reads.

use std::{future::Future, time::Duration};

use application::AppError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs `job` once now, then every `interval`, until `stop` is cancelled (a run under way is
/// finished first, so a stop never cuts a transaction's caller short). A failed run is logged and
/// retried at the next tick: every job only ever catches up on work a later run can still do.
pub fn spawn_periodic<F, Fut, T>(
    name: &'static str,
    interval: Duration,
    stop: &CancellationToken,
    job: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send,
{
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
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

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_at_once_then_every_interval_until_stopped() {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let stop = CancellationToken::new();
        let job = spawn_periodic("counter", Duration::from_secs(10), &stop, move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, AppError>(())
            }
        });
        tokio::time::sleep(Duration::from_secs(25)).await;
        stop.cancel();
        job.await.unwrap();
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

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
