//! Time, injected so deadlines, timestamps and waits are testable.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The current time, and waiting for it to pass. A fake clock can advance itself in `sleep`, so a
/// use case that waits is tested without real sleeping.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Returns once `duration` has passed, without blocking the caller's thread.
    async fn sleep(&self, duration: Duration);
}
