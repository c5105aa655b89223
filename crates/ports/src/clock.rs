//! Time, injected so deadlines and timestamps are testable.

use chrono::{DateTime, Utc};

/// The current time.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}
