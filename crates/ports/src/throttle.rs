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

/// One counter an attempt is checked against: a bucket and the events it may hold in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketLimit {
    /// Opaque bucket name chosen by the application.
    pub bucket: String,
    /// Events allowed in the window; at least 1.
    pub limit: u64,
}

/// An attempt asking to be let through and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Every counter the attempt must fit under, each counting it once admitted.
    pub buckets: Vec<BucketLimit>,
    /// Whose attempt it is (an opaque hash, e.g. of a username key), so that every event of one
    /// subject can be forgotten at once ([`ThrottleRepository::clear_subject`]).
    pub subject: Option<String>,
    /// The window's start: events at or before it no longer count.
    pub since: DateTime<Utc>,
    /// Now: when an admitted attempt is recorded.
    pub at: DateTime<Utc>,
}

/// The events an admitted attempt recorded, one per bucket: the handle to withdraw them when the
/// attempt turns out not to count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptTicket(pub Vec<i64>);

/// Result of [`ThrottleRepository::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Every bucket was under its limit; the attempt is now counted in each.
    Admitted(AttemptTicket),
    /// At least one bucket was full; nothing was recorded. The usage of every bucket, in the
    /// order of [`Attempt::buckets`].
    Refused(Vec<BucketUsage>),
}

/// A sliding-window event log keyed by opaque bucket names, and the login sources a user has
/// recently logged in from. Buckets and sources are chosen by the application (e.g. a hash of a
/// username key and an IP); storage only counts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ThrottleRepository: Send + Sync {
    /// In one atomic step: counts each bucket's events strictly after `attempt.since` and, if
    /// every count is below its limit, records one event at `attempt.at` in every bucket. MUST be
    /// atomic across connections and processes: however many attempts on overlapping buckets run
    /// at once, no bucket ever admits more events per window than its limit.
    async fn admit(&self, attempt: Attempt) -> Result<Admission, StorageError>;

    /// Deletes the events an admitted attempt recorded (it turned out not to count). Events
    /// already gone (pruned, cleared) are not an error.
    async fn withdraw(&self, ticket: AttemptTicket) -> Result<(), StorageError>;

    /// Forgets every event of `bucket` (a successful login resets its pair).
    async fn clear(&self, bucket: String) -> Result<(), StorageError>;

    /// Forgets every event recorded for `subject`, in every bucket; returns how many went.
    async fn clear_subject(&self, subject: String) -> Result<u64, StorageError>;

    /// Deletes events older than `before`; returns how many went.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;

    /// Whether `source` (an opaque login-source name) was remembered after `since`.
    async fn is_known_source(
        &self,
        source: String,
        since: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Remembers that `source` logged in successfully at `at` (one row per source, the latest
    /// time kept).
    async fn remember_source(&self, source: String, at: DateTime<Utc>) -> Result<(), StorageError>;

    /// Forgets sources last remembered before `before`; returns how many went.
    async fn prune_sources(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}
