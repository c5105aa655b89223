//! What a piece of code logs, for tests that check a cause reaches the log (and at which level).

use std::{
    io,
    sync::{Arc, LazyLock, Mutex, PoisonError},
};

use tracing::Dispatch;

/// A subscriber registered for the whole test process and never dropped. While only one
/// subscriber is registered, tracing computes the interest of a log statement first reached on
/// another thread from *that* thread's subscriber (none, in a test) and caches "never", so a
/// capture running at that moment would miss the statement. With a second registered subscriber
/// tracing asks every registered one, the capture included.
static SECOND_SUBSCRIBER: LazyLock<Dispatch> = LazyLock::new(|| {
    Dispatch::new(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(io::sink)
            .finish(),
    )
});

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` under a subscriber that records every event of this thread at every level, as plain
/// text lines; returns `f`'s result and those lines.
pub fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    LazyLock::force(&SECOND_SUBSCRIBER);
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let lines = buffer
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (result, String::from_utf8_lossy(&lines).into_owned())
}
