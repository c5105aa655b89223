//! Counters of recent attempts (failed logins, sign-ups), shared by every process through the
//! database so that scaling out does not multiply an attacker's budget.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StorageError;

/// What storage knows about one bucket within a time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketUsage {
    /// Events recorded in the window.
    pub count: u64,
    /// The oldest of them, from which the caller computes `Retry-After`.
    pub oldest: Option<DateTime<Utc>>,
}

/// A sliding-window event log keyed by opaque bucket names. Buckets are chosen by the application
/// (e.g. a hash of a username key and an IP); storage only counts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ThrottleRepository: Send + Sync {
    /// For each of `buckets` (in order), the events recorded strictly after `since` (an event
    /// exactly one window old has left the window). MUST return one
    /// entry per bucket, zero for unknown buckets.
    async fn usage(
        &self,
        buckets: Vec<String>,
        since: DateTime<Utc>,
    ) -> Result<Vec<BucketUsage>, StorageError>;

    /// Records one event at `at` in each of `buckets`, in one transaction.
    async fn record(&self, buckets: Vec<String>, at: DateTime<Utc>) -> Result<(), StorageError>;

    /// Forgets every event of `bucket` (a successful login resets its pair).
    async fn clear(&self, bucket: String) -> Result<(), StorageError>;

    /// Deletes events older than `before`; returns how many went.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}
