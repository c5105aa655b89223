//! The one connection that writes to a SQLite database, owned by a thread of its own, with group
//! commit.
//!
//! SQLite admits one writer at a time. With a pool of writing connections they raced for the lock
//! and the losers slept in SQLite's busy handler (steps of up to 100 ms), and every transaction
//! rewrote the pages it shared with the others. Here every write goes through a bounded queue to
//! one thread, which:
//!
//! 1. takes the first queued operation and opens one `BEGIN IMMEDIATE` transaction;
//! 2. runs each operation in a savepoint of its own, taking the next queued one until the queue is
//!    empty or [`MAX_BATCH`] ran: an operation that fails is rolled back to its savepoint alone and
//!    its caller gets its error, while the others go on;
//! 3. commits once, and only then answers each caller: an operation is never reported done before
//!    its commit returned.
//!
//! An operation that fails as unavailable (disk full, I/O error, the lock held elsewhere past the
//! busy timeout) may have ended the whole transaction inside SQLite, so it dooms its batch: every
//! operation of the batch is rolled back and answered with that error. So does a failed `BEGIN` or
//! `COMMIT`. Nothing is ever answered as done that is not committed.
//!
//! A full queue answers [`StorageError::Unavailable`] at once (503) instead of growing: a writer
//! that cannot keep up sheds load instead of holding requests and memory without bound.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread,
};

use diesel::{
    Connection, SqliteConnection,
    connection::{AnsiTransactionManager, TransactionManager},
};
use ports::StorageError;
use tokio::sync::oneshot;

use crate::storage::error::classify;

/// Most operations committed by one transaction: bounds how long the first of them waits for
/// the last.
pub const MAX_BATCH: usize = 256;

/// Work on the writer's connection: one repository call.
pub type Work<T> = Box<dyn FnOnce(&mut SqliteConnection) -> Result<T, StorageError> + Send>;

/// Opens a writer connection, set up: the first when the writer starts, another when a failed
/// transaction left the connection unusable.
pub type Open = Box<dyn Fn() -> Result<SqliteConnection, String> + Send>;

/// A handle to the writer thread; clones share it. The thread ends once every handle is dropped.
#[derive(Clone, Debug)]
pub struct Writer {
    queue: SyncSender<Box<dyn Operation>>,
    state: Arc<WriterState>,
}

/// What the writer is doing, for monitoring.
#[derive(Debug, Default)]
struct WriterState {
    /// Operations submitted and not yet taken into a batch.
    queued: AtomicUsize,
    /// Whether a batch is running.
    busy: AtomicBool,
    /// Batches ended (committed or rolled back) since the writer started.
    batches: AtomicU64,
}

impl Writer {
    /// Opens the writer's connection and starts its thread, with room for `capacity` queued
    /// operations.
    pub fn start(open: Open, capacity: usize) -> Result<Self, String> {
        let conn = open()?;
        let (queue, operations) = mpsc::sync_channel(capacity.max(1));
        let state = Arc::new(WriterState::default());
        let thread_state = state.clone();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, &open, &operations, &thread_state))
            .map_err(|e| format!("cannot start the database writer: {e}"))?;
        Ok(Self { queue, state })
    }

    /// Queues `work` for the next batch at once (or refuses it at once when the queue is full);
    /// the returned future answers once that batch is committed. The work runs even if the
    /// future is dropped: a write, once asked for, is not silently lost.
    pub fn run<T: Send + 'static>(
        &self,
        work: Work<T>,
    ) -> impl Future<Output = Result<T, StorageError>> + use<T> {
        let (reply, answer) = oneshot::channel();
        let operation = Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        });
        self.state.queued.fetch_add(1, Ordering::Relaxed);
        let refused = self.queue.try_send(operation).err().map(|refused| {
            self.state.queued.fetch_sub(1, Ordering::Relaxed);
            StorageError::Unavailable(match refused {
                TrySendError::Full(_) => "the database writer's queue is full".into(),
                TrySendError::Disconnected(_) => "the database writer has stopped".into(),
            })
        });
        async move {
            if let Some(refused) = refused {
                return Err(refused);
            }
            answer.await.map_err(|_| {
                StorageError::Internal("the database writer dropped an operation".into())
            })?
        }
    }

    /// Batches ended (committed or rolled back) since the writer started; a batch counts before
    /// its callers are answered.
    pub fn batches(&self) -> u64 {
        self.state.batches.load(Ordering::Relaxed)
    }

    /// Operations waiting for a batch, and whether one is running.
    pub fn usage(&self) -> (usize, bool) {
        (
            self.state.queued.load(Ordering::Relaxed),
            self.state.busy.load(Ordering::Relaxed),
        )
    }
}

/// One queued repository call, type-erased so one queue carries calls of every result type.
trait Operation: Send {
    /// Runs the call in its own savepoint. Returns the error that dooms the whole batch, if any.
    fn run(&mut self, conn: &mut SqliteConnection) -> Option<StorageError>;

    /// Answers the caller, once the batch's fate is known: `batch` is the error that rolled the
    /// batch back, if any.
    fn answer(self: Box<Self>, batch: Option<&StorageError>);
}

struct Pending<T> {
    work: Option<Work<T>>,
    result: Option<Result<T, StorageError>>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T: Send> Operation for Pending<T> {
    fn run(&mut self, conn: &mut SqliteConnection) -> Option<StorageError> {
        let work = self.work.take()?;
        let result = in_savepoint(conn, work);
        let doom = match &result {
            Err(error @ StorageError::Unavailable(_)) => Some(error.clone()),
            _ => None,
        };
        self.result = Some(result);
        doom
    }

    fn answer(self: Box<Self>, batch: Option<&StorageError>) {
        let result = match (self.result, batch) {
            // Its own failure is the truer answer, whatever became of the batch.
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(_)) | None, Some(batch)) => Err(batch.clone()),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(StorageError::Internal(
                "a write was answered without running".into(),
            )),
        };
        // The caller may have gone; its work is committed (or not) all the same.
        let _ = self.reply.send(result);
    }
}

/// Why one operation's savepoint ended in a rollback.
enum Failed {
    Operation(StorageError),
    Savepoint(diesel::result::Error),
}

impl From<diesel::result::Error> for Failed {
    fn from(error: diesel::result::Error) -> Self {
        Self::Savepoint(error)
    }
}

/// Runs `work` inside a savepoint (diesel nests `transaction` as `SAVEPOINT`): rolled back to it
/// if the work fails or panics, released if it succeeds.
fn in_savepoint<T>(conn: &mut SqliteConnection, work: Work<T>) -> Result<T, StorageError> {
    let depth = transaction_depth(conn);
    let ran = catch_unwind(AssertUnwindSafe(|| {
        conn.transaction(|conn| work(conn).map_err(Failed::Operation))
    }));
    match ran {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Failed::Operation(error))) => Err(error),
        Ok(Err(Failed::Savepoint(error))) => Err(classify(error)),
        Err(_) => {
            // The panic skipped diesel's rollback: undo the savepoints it left open.
            while transaction_depth(conn) > depth {
                if let Err(error) = AnsiTransactionManager::rollback_transaction(conn) {
                    return Err(StorageError::Unavailable(format!(
                        "cannot roll back after a panic: {error}"
                    )));
                }
            }
            Err(StorageError::Internal(
                "a storage operation panicked".into(),
            ))
        }
    }
}

/// Whether the connection is outside any transaction, as a batch must find it.
fn idle(conn: &mut SqliteConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    )
}

fn transaction_depth(conn: &mut SqliteConnection) -> u32 {
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .map_or(0, std::num::NonZeroU32::get)
}

/// The writer thread: batches until every handle is dropped.
fn serve(
    mut conn: SqliteConnection,
    open: &Open,
    operations: &Receiver<Box<dyn Operation>>,
    state: &WriterState,
) {
    while let Ok(first) = operations.recv() {
        state.queued.fetch_sub(1, Ordering::Relaxed);
        state.busy.store(true, Ordering::Relaxed);
        let mut batch = vec![first];
        let failed = commit(&mut conn, &mut batch, operations, state).err();
        state.batches.fetch_add(1, Ordering::Relaxed);
        for operation in batch {
            operation.answer(failed.as_ref());
        }
        if failed.is_some() && !idle(&mut conn) {
            // A failed rollback leaves diesel's transaction state broken for good: start over on
            // a new connection (the next batch fails again if that cannot be opened either).
            match open() {
                Ok(fresh) => conn = fresh,
                Err(error) => tracing::error!(%error, "cannot reopen the database writer"),
            }
        }
        state.busy.store(false, Ordering::Relaxed);
    }
}

/// Why a batch was rolled back.
enum BatchFailed {
    Doomed(StorageError),
    Transaction(diesel::result::Error),
}

impl From<diesel::result::Error> for BatchFailed {
    fn from(error: diesel::result::Error) -> Self {
        Self::Transaction(error)
    }
}

/// Runs the operations of `batch`, and those queued meanwhile, in one write transaction, and
/// commits it once the queue is empty (or the batch full). Taking what arrived while the batch
/// ran, rather than only what was queued when it began, is what makes batches grow under load
/// without delaying any commit on purpose.
fn commit(
    conn: &mut SqliteConnection,
    batch: &mut Vec<Box<dyn Operation>>,
    operations: &Receiver<Box<dyn Operation>>,
    state: &WriterState,
) -> Result<(), StorageError> {
    let committed = conn.immediate_transaction(|conn| {
        let mut next = 0;
        loop {
            if next == batch.len() {
                if batch.len() >= MAX_BATCH {
                    break;
                }
                let Ok(queued) = operations.try_recv() else {
                    break;
                };
                state.queued.fetch_sub(1, Ordering::Relaxed);
                batch.push(queued);
            }
            if let Some(doom) = batch[next].run(conn) {
                return Err(BatchFailed::Doomed(doom));
            }
            next += 1;
        }
        fail::fail_point!("storage::writer::before_commit", |_| {
            // A crash after the batch ran and before it committed, for the crash test.
            std::process::abort()
        });
        Ok(())
    });
    match committed {
        Ok(()) => Ok(()),
        Err(BatchFailed::Doomed(error)) => Err(error),
        Err(BatchFailed::Transaction(error)) => Err(classify(error)),
    }
}

#[cfg(test)]
mod tests;
