//! Graceful shutdown as the rest of the service sees it: two moments and a set of tasks.
//!
//! 1. **Stopping** (SIGTERM or SIGINT arrived): the listener closes, `/readyz` answers 503, the
//!    background jobs finish their current run and stop. Requests already accepted go on.
//! 2. **Deadline** (`server.shutdown_timeout_secs` later): in-flight work must end now. Code that
//!    can end early and still leave the books right selects on [`Shutdown::deadline`]: a stream
//!    cut off here is settled as an interrupted chat. One second later the HTTP server closes the
//!    connections still open.
//!
//! Work that must not be cancelled with its request runs on a task of its own, in one of two ways:
//!
//! - [`Shutdown::spawn`] (a chat): on the HTTP worker's own runtime, no thread hop. The worker
//!   stops once its connections are done (or at the deadline), and its runtime drops what is still
//!   running: only a chat whose client has already gone, whose charge then stays pending.
//! - [`Shutdown::spawn_outliving_workers`] (work that must finish after its response has ended,
//!   like settling a stream cut at the deadline): on the main runtime, which outlives the workers,
//!   and tracked: the process waits for it up to [`SETTLE_GRACE`] past the deadline.
//!
//! A task abandoned either way has stored its chat or left its charge pending; the sweeper refunds
//! a pending charge once its deadline has passed, so nothing is charged without its answer stored.

use std::{future::Future, time::Duration};

use tokio::{runtime::Handle, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// How long tracked tasks may still run after the deadline: enough for a settle or refund
/// transaction, not for another responder call.
pub const SETTLE_GRACE: Duration = Duration::from_secs(3);

/// The service's shutdown state, shared by every worker (cheap to clone).
#[derive(Clone, Debug)]
pub struct Shutdown {
    stopping: CancellationToken,
    deadline: CancellationToken,
    tasks: TaskTracker,
    runtime: Handle,
}

impl Shutdown {
    /// A service that is not stopping, whose tracked tasks run on `runtime` (the main one, which
    /// outlives the HTTP workers' own).
    pub fn new(runtime: Handle) -> Self {
        Self {
            stopping: CancellationToken::new(),
            deadline: CancellationToken::new(),
            tasks: TaskTracker::new(),
            runtime,
        }
    }

    /// Cancelled once the service has been asked to stop.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Cancelled when in-flight work must end: select on `deadline().cancelled()` in code that
    /// can stop early and settle what it has (a stream).
    pub fn deadline(&self) -> &CancellationToken {
        &self.deadline
    }

    /// Whether the service has been asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Runs `task` on the current runtime (see the module documentation). Cheap: every chat
    /// runs through here.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Runs `task` on the main runtime, which outlives the HTTP workers; shutdown waits for it
    /// (see the module documentation). Costs a hand-off to another thread and back.
    pub fn spawn_outliving_workers<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn_on(task, &self.runtime)
    }

    /// Starts stopping: cancels [`Self::stopping`] now and [`Self::deadline`] after `timeout`.
    /// Calling it again changes nothing.
    pub fn begin(&self, timeout: Duration) {
        if self.stopping.is_cancelled() {
            return;
        }
        self.stopping.cancel();
        let deadline = self.deadline.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            deadline.cancel();
        });
    }

    /// Waits for every tracked task to end, until the deadline has passed by [`SETTLE_GRACE`]
    /// (at once, when called before stopping has begun). Returns how many were abandoned.
    pub async fn wait_for_tasks(&self) -> usize {
        self.tasks.close();
        let deadline_then_grace = async {
            self.deadline.cancelled().await;
            tokio::time::sleep(SETTLE_GRACE).await;
        };
        tokio::select! {
            () = self.tasks.wait() => 0,
            () = deadline_then_grace => self.tasks.len(),
        }
    }
}

/// Resolves with the signal's name when the process gets SIGTERM or SIGINT (Ctrl-C). Both ask
/// for the same graceful stop; a second signal is not needed and not special.
pub async fn os_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        })
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stopping_fires_at_once_and_the_deadline_after_the_timeout() {
        let shutdown = Shutdown::new(Handle::current());
        assert!(!shutdown.is_stopping());
        shutdown.begin(Duration::from_secs(30));
        assert!(shutdown.is_stopping());
        assert!(!shutdown.deadline().is_cancelled());
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!shutdown.deadline().is_cancelled());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(shutdown.deadline().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_a_tracked_task_that_ends_in_time() {
        let shutdown = Shutdown::new(Handle::current());
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        shutdown.spawn_outliving_workers(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            flag.store(true, Ordering::SeqCst);
        });
        shutdown.begin(Duration::from_secs(30));
        assert_eq!(shutdown.wait_for_tasks().await, 0);
        assert!(done.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_still_running_past_the_grace_is_abandoned() {
        let shutdown = Shutdown::new(Handle::current());
        shutdown.spawn_outliving_workers(std::future::pending::<()>());
        let started = tokio::time::Instant::now();
        shutdown.begin(Duration::from_secs(30));
        assert_eq!(shutdown.wait_for_tasks().await, 1);
        assert_eq!(started.elapsed(), Duration::from_secs(30) + SETTLE_GRACE);
    }
}
