//! The writer's guarantees, on a real SQLite file: operations of one batch commit together, each
//! in its own savepoint; a failure dooms only its own operation unless it is an outage; a full
//! queue refuses at once. A gate operation holds the writer busy inside a batch while the test
//! queues the operations it wants in that batch (the writer takes what is queued before it
//! commits), so batching is decided by the test, not by timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;

use diesel::{Connection, RunQueryDsl, SqliteConnection, connection::SimpleConnection, sql_query};
use ports::StorageError;

use super::{Work, Writer};

struct Fixture {
    _dir: tempfile::TempDir,
    path: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db").to_string_lossy().into_owned();
        let mut conn = SqliteConnection::establish(&path).unwrap();
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        )
        .unwrap();
        Self { _dir: dir, path }
    }

    fn writer(&self, capacity: usize) -> Writer {
        let path = self.path.clone();
        Writer::start(
            Box::new(move || {
                let mut conn = SqliteConnection::establish(&path).map_err(|e| e.to_string())?;
                conn.batch_execute("PRAGMA busy_timeout = 5000;")
                    .map_err(|e| e.to_string())?;
                Ok(conn)
            }),
            capacity,
        )
        .unwrap()
    }

    /// The ids in `t`, read on a connection of its own (what a new reader sees).
    fn ids(&self) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let mut conn = SqliteConnection::establish(&self.path).unwrap();
        let rows: Vec<Row> = sql_query("SELECT id FROM t ORDER BY id")
            .load(&mut conn)
            .unwrap();
        rows.into_iter().map(|row| row.id).collect()
    }
}

fn insert(id: i64) -> Work<()> {
    Box::new(move |conn| {
        conn.batch_execute(&format!("INSERT INTO t (id, v) VALUES ({id}, 'row')"))
            .map_err(|e| StorageError::Internal(e.to_string()))
    })
}

/// Inserts `id`, then fails with `error`: the insert must not survive.
fn insert_then_fail(id: i64, error: StorageError) -> Work<()> {
    Box::new(move |conn| {
        conn.batch_execute(&format!("INSERT INTO t (id, v) VALUES ({id}, 'row')"))
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        Err(error)
    })
}

/// Occupies the writer until released: returns once the writer runs the gate, the first operation
/// of a batch, with the sender that lets it finish and the gate's own answer.
async fn hold(
    writer: &Writer,
) -> (
    mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), StorageError>>,
) {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (release, released) = mpsc::channel::<()>();
    let gate = writer.run(Box::new(move |_conn| {
        started_tx.send(()).unwrap();
        released.recv().unwrap();
        Ok(())
    }));
    let gate = tokio::spawn(gate);
    started.await.unwrap();
    (release, gate)
}

#[tokio::test]
async fn a_failed_operation_inside_a_batch_leaves_the_others_committed() {
    let fixture = Fixture::new();
    let writer = fixture.writer(16);
    let (release, gate) = hold(&writer).await;
    let before = writer.batches();

    let first = writer.run(insert(1));
    let failing = writer.run(insert_then_fail(
        2,
        StorageError::Internal("refused".into()),
    ));
    let last = writer.run(insert(3));
    release.send(()).unwrap();
    assert_eq!(gate.await.unwrap(), Ok(()));

    assert_eq!(first.await, Ok(()));
    assert_eq!(
        failing.await,
        Err(StorageError::Internal("refused".into())),
        "the failing operation gets its own error"
    );
    assert_eq!(last.await, Ok(()));
    assert_eq!(
        writer.batches(),
        before + 1,
        "the gate and all three in one batch"
    );
    assert_eq!(
        fixture.ids(),
        vec![1, 3],
        "only the failed operation rolled back"
    );
}

#[tokio::test]
async fn a_panicking_operation_is_internal_and_dooms_no_other() {
    let fixture = Fixture::new();
    let writer = fixture.writer(16);
    let (release, gate) = hold(&writer).await;

    let first = writer.run(insert(1));
    let panicking = writer.run(Box::new(|conn: &mut SqliteConnection| -> Result<(), _> {
        conn.batch_execute("INSERT INTO t (id, v) VALUES (2, 'row')")
            .unwrap();
        panic!("a bug in a query");
    }));
    let last = writer.run(insert(3));
    release.send(()).unwrap();
    assert_eq!(gate.await.unwrap(), Ok(()));

    assert_eq!(first.await, Ok(()));
    assert_eq!(
        panicking.await,
        Err(StorageError::Internal(
            "a storage operation panicked".into()
        ))
    );
    assert_eq!(last.await, Ok(()));
    assert_eq!(fixture.ids(), vec![1, 3]);
    assert_eq!(writer.run(insert(4)).await, Ok(()), "the writer lives on");
}

#[tokio::test]
async fn an_outage_inside_a_batch_rolls_the_whole_batch_back_and_says_so_to_everyone() {
    let fixture = Fixture::new();
    let writer = fixture.writer(16);
    let (release, gate) = hold(&writer).await;

    let outage = StorageError::Unavailable("disk I/O error".into());
    let first = writer.run(insert(1));
    let failing = writer.run(insert_then_fail(2, outage.clone()));
    let behind = writer.run(insert(3));
    release.send(()).unwrap();
    assert_eq!(
        gate.await.unwrap(),
        Err(outage.clone()),
        "its batch did not commit"
    );
    assert_eq!(
        first.await,
        Err(outage.clone()),
        "not committed, so not done"
    );
    assert_eq!(failing.await, Err(outage));
    assert_eq!(
        behind.await,
        Ok(()),
        "an operation the doomed batch had not taken yet runs in the next batch"
    );
    assert_eq!(fixture.ids(), vec![3]);
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_as_unavailable_instead_of_growing() {
    let fixture = Fixture::new();
    let writer = fixture.writer(2);
    let (release, gate) = hold(&writer).await;

    let queued = [writer.run(insert(1)), writer.run(insert(2))];
    assert_eq!(writer.usage(), (2, true));
    assert_eq!(
        writer.run(insert(3)).await,
        Err(StorageError::Unavailable(
            "the database writer's queue is full".into()
        )),
        "refused without waiting for the writer"
    );
    assert_eq!(
        writer.usage(),
        (2, true),
        "the refused operation is not queued"
    );
    release.send(()).unwrap();
    assert_eq!(gate.await.unwrap(), Ok(()));

    for operation in queued {
        assert_eq!(operation.await, Ok(()));
    }
    assert_eq!(fixture.ids(), vec![1, 2], "the refused operation never ran");
}

#[tokio::test]
async fn a_write_is_answered_only_once_committed_and_visible_to_a_new_connection() {
    let fixture = Fixture::new();
    let writer = fixture.writer(16);
    for id in 1..=3 {
        writer.run(insert(id)).await.unwrap();
        assert!(
            fixture.ids().contains(&id),
            "answered before {id} was visible"
        );
    }
}
