//! A fixed set of low-priority threads for CPU-bound work (password hashing).
//!
//! tokio's blocking pool grows to hundreds of threads, so a burst of logins — or an attacker
//! spraying passwords — ran that many bcrypt hashes at once, and every database call (also on the
//! blocking pool) and every event loop waited behind them for the CPU. Here at most `threads`
//! jobs run at once and the rest wait in a queue; the threads run at a lower scheduling priority
//! (nice 10), so they use whatever CPU is idle but yield it to request handling at once. A job
//! whose caller has gone (client disconnected, request cancelled) is skipped rather than run for
//! nobody.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, Receiver, Sender},
    },
    thread,
};

use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The cross-platform priority (0–99, higher runs first) that thread-priority maps to nice 10 on
/// Linux: a CPU-bound thread at nice 10 gets about a tenth of the share of one at nice 0 while
/// both want the CPU, and all of it when nothing else does.
const LOW_PRIORITY: u8 = 22;

/// Why a job produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker thread has exited (they only do when the pool is dropped).
    #[error("the {0} pool has stopped")]
    Stopped(&'static str),
    /// The job panicked.
    #[error("a {0} job panicked")]
    Panicked(&'static str),
}

/// A handle to the pool; clones share the same threads, which exit once every handle is dropped.
#[derive(Debug, Clone)]
pub struct CpuPool {
    name: &'static str,
    jobs: Sender<Job>,
}

impl CpuPool {
    /// Starts `threads` workers (at least one) named `name-0`, `name-1`, …
    pub fn new(name: &'static str, threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || work(name, &queue))?;
        }
        Ok(Self { name, jobs })
    }

    /// Runs `job` on a pool thread and returns its result. If the returned future is dropped
    /// before a thread takes the job, the job never runs.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            if reply.is_closed() {
                return;
            }
            // A panic must not take the worker thread with it; the caller sees the dropped reply.
            if let Ok(result) = catch_unwind(AssertUnwindSafe(job)) {
                let _ = reply.send(result);
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| PoolError::Stopped(self.name))?;
        answer.await.map_err(|_| PoolError::Panicked(self.name))
    }
}

/// A worker: lowers its own priority, then runs queued jobs until the pool is dropped.
fn work(name: &str, queue: &Mutex<Receiver<Job>>) {
    let lowered = ThreadPriorityValue::try_from(LOW_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|e| format!("{e:?}"))
        });
    if let Err(error) = lowered {
        tracing::warn!(pool = name, %error, "cannot lower the priority of a worker thread");
    }
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests;
