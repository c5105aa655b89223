use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use futures_util::FutureExt;
use tokio::sync::mpsc::unbounded_channel;

use super::*;

#[tokio::test]
async fn at_most_the_configured_number_of_jobs_run_at_once() {
    let pool = CpuPool::new("test", 2).unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (started, mut starts) = unbounded_channel();
    // Every job holds its thread until the gate's sender is dropped.
    let (gate, closed) = mpsc::channel::<()>();
    let closed = Arc::new(Mutex::new(closed));
    let jobs: Vec<_> = (0..6)
        .map(|_| {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            let (started, closed) = (started.clone(), closed.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                    started.send(()).unwrap();
                    let _ = closed.lock().unwrap().recv();
                    running.fetch_sub(1, SeqCst);
                })
                .await
            })
        })
        .collect();
    // Two jobs are running and hold both threads; the other four can only be queued.
    starts.recv().await.unwrap();
    starts.recv().await.unwrap();
    assert_eq!(running.load(SeqCst), 2);
    drop(gate);
    for job in jobs {
        job.await.unwrap().unwrap();
    }
    assert_eq!(most.load(SeqCst), 2, "never more jobs at once than threads");
}

#[tokio::test]
async fn a_job_whose_caller_has_gone_is_skipped() {
    let pool = CpuPool::new("test", 1).unwrap();
    let (started, mut starts) = unbounded_channel();
    let (gate, closed) = mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.run(move || {
                started.send(()).unwrap();
                let _ = closed.recv();
            })
            .await
        }
    });
    starts.recv().await.unwrap();

    let ran = Arc::new(AtomicBool::new(false));
    let mut abandoned = Box::pin(pool.run({
        let ran = ran.clone();
        move || ran.store(true, SeqCst)
    }));
    assert!(
        (&mut abandoned).now_or_never().is_none(),
        "queued behind the blocker"
    );
    drop(abandoned);
    drop(gate);
    blocker.await.unwrap().unwrap();
    // One thread takes jobs in order: once this one ran, the abandoned one was taken before it.
    assert_eq!(pool.run(|| 7).await, Ok(7));
    assert!(!ran.load(SeqCst));
}

#[tokio::test]
async fn a_panicking_job_is_an_error_and_its_thread_keeps_working() {
    let pool = CpuPool::new("test", 1).unwrap();
    assert_eq!(
        pool.run(|| -> u8 { panic!("job failure") }).await,
        Err(PoolError::Panicked("test"))
    );
    assert_eq!(pool.run(|| 7).await, Ok(7));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn workers_run_at_a_lower_priority() {
    let pool = CpuPool::new("test", 1).unwrap();
    let nice = pool
        .run(|| {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // Field 19 of stat(5) is the nice value; fields 3.. follow the parenthesised name.
            let fields = stat.rsplit_once(')').unwrap().1;
            fields
                .split_whitespace()
                .nth(16)
                .unwrap()
                .parse::<i32>()
                .unwrap()
        })
        .await
        .unwrap();
    assert!(nice >= 10, "nice {nice}");
}
