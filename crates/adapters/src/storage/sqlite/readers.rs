//! Read-only SQLite connections, each owned by a thread of its own, behind one bounded queue.
//!
//! In WAL mode a reader never waits for the writer: it reads the last committed snapshot while
//! the writer appends the next. A read is one message to a reader thread and one reply: no pool
//! checkout, no validation query, no thread hand-off through tokio's blocking pool. The
//! connections are `query_only`, so a write sent here by mistake fails instead of taking the
//! write lock behind the writer's back.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread,
};

use diesel::SqliteConnection;
use ports::StorageError;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut SqliteConnection) + Send>;

/// A handle to the reader threads; clones share them. They end once every handle is dropped.
#[derive(Clone, Debug)]
pub struct Readers {
    queue: SyncSender<Job>,
    threads: usize,
    state: Arc<ReadersState>,
}

#[derive(Debug, Default)]
struct ReadersState {
    /// Reads submitted and not yet taken by a thread.
    queued: AtomicUsize,
    /// Reads running.
    running: AtomicUsize,
}

impl Readers {
    /// Starts one thread per connection `open` returns (`threads` of them, at least one), with
    /// room for `capacity` queued reads.
    pub fn start(
        open: &dyn Fn() -> Result<SqliteConnection, String>,
        threads: usize,
        capacity: usize,
    ) -> Result<Self, String> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(capacity.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        let state = Arc::new(ReadersState::default());
        let threads = threads.max(1);
        for index in 0..threads {
            let mut conn = open()?;
            let (jobs, state) = (jobs.clone(), state.clone());
            thread::Builder::new()
                .name(format!("sqlite-reader-{index}"))
                .spawn(move || serve(&mut conn, &jobs, &state))
                .map_err(|e| format!("cannot start a database reader: {e}"))?;
        }
        Ok(Self {
            queue,
            threads,
            state,
        })
    }

    /// Runs `work` on a reader's connection. If this future is dropped before a reader takes the
    /// work, it never runs.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            if reply.is_closed() {
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(StorageError::Internal("a storage read panicked".into())));
            let _ = reply.send(result);
        });
        self.state.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = self.queue.try_send(job) {
            self.state.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(StorageError::Unavailable(match refused {
                TrySendError::Full(_) => "the database readers' queue is full".into(),
                TrySendError::Disconnected(_) => "the database readers have stopped".into(),
            }));
        }
        answer
            .await
            .map_err(|_| StorageError::Internal("a database reader dropped a read".into()))?
    }

    /// Reader threads, reads running now, and reads queued.
    pub fn usage(&self) -> (usize, usize, usize) {
        (
            self.threads,
            self.state.running.load(Ordering::Relaxed),
            self.state.queued.load(Ordering::Relaxed),
        )
    }
}

fn serve(conn: &mut SqliteConnection, jobs: &Mutex<Receiver<Job>>, state: &ReadersState) {
    loop {
        // The lock is held only while waiting for the next read, never while running one.
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else { return };
        state.queued.fetch_sub(1, Ordering::Relaxed);
        state.running.fetch_add(1, Ordering::Relaxed);
        job(conn);
        state.running.fetch_sub(1, Ordering::Relaxed);
    }
}
