//! Throttling of guessable operations: failed logins and sign-ups (the `throttled` answer, 429
//! with `Retry-After`). The use cases that run those operations ([`crate::Login`],
//! [`crate::Register::sign_up`], [`crate::admin::AdminAuth::login`]) enforce their throttle
//! themselves, so no caller can forget it; the client's address is one of their inputs.
//!
//! Failed logins are counted in three sliding windows at once, so that an attacker cannot lock a
//! victim out from afar:
//! - per (username key, client address) pair — the tight limit (5 / 15 min): guessing one
//!   account from one address stops quickly, while the victim on *another* address is unaffected;
//! - per username across all addresses (20): a distributed guess against one account is bounded.
//!   A pair that logged in successfully within the last 30 days (a *known source*) is exempt
//!   from this cap, so a stranger who fills it cannot lock the owner out of where they usually
//!   log in; the pair and address limits still bound guessing from there;
//! - per address across all usernames (100): one address spraying many accounts is bounded.
//!
//! Deciding and counting are one atomic step in storage ([`ThrottleRepository::admit`]): an
//! attempt is counted *before* it runs, in the same transaction that found every counter below
//! its limit, so a burst of concurrent attempts can never get more through than the limit, on any
//! number of processes. A throttled attempt is refused before it runs (no bcrypt work, no oracle).
//! An admitted attempt whose outcome does not count is withdrawn afterwards: a login that was not
//! a wrong guess (a success, a blank field, an outage); a successful login also resets its own
//! pair. The API's `/login/` and the admin panel's login share one [`LoginThrottle`], hence one
//! budget; sign-ups use [`SignupThrottle`], where every attempt that reaches password hashing
//! counts, successful or not. Both run through one generic `attempt` (admit, run, withdraw what
//! does not count). Counters live in storage, so every process shares them.

use std::{future::Future, net::IpAddr, sync::Arc, time::Duration};

use crate::{AppError, digest::sha256_hex};
use chrono::{DateTime, Utc};
use domain::UsernameKey;
use ports::{
    Admission, Attempt, AttemptTicket, BucketLimit, BucketUsage, Clock, ThrottleRepository,
};

/// Login limits; a limit of 0 disables that counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per (username, address) pair within `window`.
    pub per_pair: u64,
    /// Failures allowed per username across all addresses within `window`.
    pub per_username: u64,
    /// Failures allowed per address across all usernames within `window`.
    pub per_ip: u64,
    /// The sliding window.
    pub window: Duration,
    /// How long after a successful login its (username, address) pair stays exempt from the
    /// per-username limit; zero disables the exemption.
    pub known_source_for: Duration,
}

impl LoginLimits {
    /// The defaults: 5 per pair, 20 per username, 100 per address, 15 minutes; a pair that
    /// logged in within 30 days is exempt from the per-username limit.
    pub const DEFAULT: Self = Self {
        per_pair: 5,
        per_username: 20,
        per_ip: 100,
        window: Duration::from_secs(15 * 60),
        known_source_for: Duration::from_secs(30 * 24 * 60 * 60),
    };
}

/// At most `max` events per `window`; `max == 0` disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed in the window.
    pub max: u64,
    /// The sliding window.
    pub window: Duration,
}

/// The network address a request came from, as throttles count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    /// The client at `ip`.
    pub const fn new(ip: IpAddr) -> Self {
        Self(ip)
    }

    /// The address as seen on the wire.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// What counters are keyed by. IPv4-mapped IPv6 addresses count as their IPv4 address, and
    /// other IPv6 addresses by their /64 prefix: one subscriber usually holds a whole /64, so
    /// counting single IPv6 addresses would give an attacker 2^64 fresh budgets.
    pub fn throttle_key(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }
}

impl From<IpAddr> for ClientAddress {
    fn from(ip: IpAddr) -> Self {
        Self(ip)
    }
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An opaque, fixed-size bucket name: storage never sees usernames or addresses, and a 60 KiB
/// "username" costs the same 64 bytes as any other.
fn bucket(parts: &[&str]) -> String {
    let mut input = Vec::new();
    for part in parts {
        input.extend_from_slice(part.as_bytes());
        input.push(0);
    }
    sha256_hex(&input)
}

/// The counters of one attempt, in one sliding window. Counters whose limit is 0 are left out, so
/// a disabled limit costs no storage work.
#[derive(Debug, Clone)]
struct Rule {
    /// For the log line of a refusal.
    name: &'static str,
    client: ClientAddress,
    window: Duration,
    counters: Vec<BucketLimit>,
    /// Whose attempt it is, so an operator can forget every event of one username.
    subject: Option<String>,
}

impl Rule {
    fn new(
        name: &'static str,
        client: ClientAddress,
        window: Duration,
        counters: impl IntoIterator<Item = (String, u64)>,
    ) -> Self {
        let counters = counters
            .into_iter()
            .filter(|(_, limit)| *limit > 0)
            .map(|(bucket, limit)| BucketLimit { bucket, limit })
            .collect();
        Self {
            name,
            client,
            window,
            counters,
            subject: None,
        }
    }

    fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(chrono_window(self.window))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Seconds until every over-limit counter is below its limit again, if any is over.
    fn retry_after(&self, usage: &[BucketUsage], now: DateTime<Utc>) -> Option<u64> {
        let window = chrono_window(self.window);
        usage
            .iter()
            .zip(&self.counters)
            .filter(|(usage, counter)| usage.count >= counter.limit)
            .map(|(usage, _)| {
                let free_at = usage
                    .oldest
                    .unwrap_or(now)
                    .checked_add_signed(window)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                let millis = u64::try_from((free_at - now).num_milliseconds()).unwrap_or(0);
                millis.div_ceil(1000).max(1)
            })
            .max()
    }
}

fn chrono_window(window: Duration) -> chrono::Duration {
    chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

/// The counters in storage and the clock they are read against: the engine behind every
/// throttle.
struct Counters {
    events: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
}

impl Counters {
    /// Counts the attempt in every counter of `rule` if all are below their limits, in one atomic
    /// step; `Err(Throttled)` otherwise. `None` when `rule` has no counters.
    async fn admit(&self, rule: &Rule) -> Result<Option<AttemptTicket>, AppError> {
        if rule.counters.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let admission = self
            .events
            .admit(Attempt {
                buckets: rule.counters.clone(),
                subject: rule.subject.clone(),
                since: rule.window_start(now),
                at: now,
            })
            .await?;
        match admission {
            Admission::Admitted(ticket) => Ok(Some(ticket)),
            Admission::Refused(usage) => {
                // A refusal always has a full counter; 1 second covers a storage that disagrees.
                let retry_after_secs = rule.retry_after(&usage, now).unwrap_or(1);
                tracing::warn!(
                    throttle = rule.name,
                    client = %rule.client,
                    retry_after_secs,
                    "attempt throttled"
                );
                Err(AppError::Throttled { retry_after_secs })
            }
        }
    }

    /// Runs `work` once `rule` admits it (counted up front, atomically), then withdraws the count
    /// if `counts` says the outcome must not count. `work` is not polled when throttled, so
    /// nothing it would check or write happens then. A storage failure while counting fails the
    /// attempt (closed, never open); an attempt that cannot be withdrawn stays counted.
    async fn attempt<T, E, F>(
        &self,
        rule: Rule,
        work: F,
        counts: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<AppError>,
    {
        let ticket = self.admit(&rule).await?;
        let outcome = work.await;
        if let Some(ticket) = ticket.filter(|_| !counts(&outcome)) {
            self.events
                .withdraw(ticket)
                .await
                .map_err(|e| E::from(e.into()))?;
        }
        outcome
    }
}

/// An error a login can end with, as the failed-login throttle sees it.
pub trait LoginFailure: From<AppError> {
    /// Whether this refusal answers a wrong guess (unknown user, wrong password, …); only those
    /// count against the limits, so a client fixing a blank field is not punished.
    fn is_wrong_guess(&self) -> bool;
}

impl LoginFailure for AppError {
    fn is_wrong_guess(&self) -> bool {
        matches!(self, AppError::InvalidCredentials)
    }
}

/// The buckets of a login as `username` (compared by its case-insensitive key, as typed by the
/// client) from `client`, and the name of that pair as a known source.
struct LoginBuckets {
    pair: String,
    username: String,
    address: String,
    source: String,
}

impl LoginBuckets {
    fn of(username: &str, client: ClientAddress) -> Self {
        let key = UsernameKey::of(username);
        let address = client.throttle_key();
        Self {
            pair: bucket(&["login-pair", key.as_str(), &address]),
            username: username_bucket(&key),
            address: bucket(&["login-ip", &address]),
            source: bucket(&["login-source", key.as_str(), &address]),
        }
    }
}

/// The per-username bucket, which also names the subject of every failed login of that username.
fn username_bucket(key: &UsernameKey) -> String {
    bucket(&["login-username", key.as_str()])
}

/// Failed-login throttle, shared by every login form.
pub struct LoginThrottle {
    counters: Counters,
    limits: LoginLimits,
}

impl LoginThrottle {
    /// Wires the throttle.
    pub fn new(
        events: Arc<dyn ThrottleRepository>,
        clock: Arc<dyn Clock>,
        limits: LoginLimits,
    ) -> Self {
        Self {
            counters: Counters { events, clock },
            limits,
        }
    }

    /// Whether known sources matter: they exempt from the per-username limit, if there is one.
    fn tracks_sources(&self) -> bool {
        !self.limits.known_source_for.is_zero() && self.limits.per_username > 0
    }

    /// Whether `buckets`' pair logged in successfully within the known-source window.
    async fn is_known_source(&self, buckets: &LoginBuckets) -> Result<bool, AppError> {
        if !self.tracks_sources() {
            return Ok(false);
        }
        let since = self
            .counters
            .clock
            .now()
            .checked_sub_signed(chrono_window(self.limits.known_source_for))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self
            .counters
            .events
            .is_known_source(buckets.source.clone(), since)
            .await?)
    }

    /// The counters of a login: pair, username and address. From a known source the username
    /// counter still counts the attempt but never refuses it.
    fn rule(&self, buckets: &LoginBuckets, known_source: bool, client: ClientAddress) -> Rule {
        let per_username = if known_source {
            u64::MAX
        } else {
            self.limits.per_username
        };
        let mut rule = Rule::new(
            "login",
            client,
            self.limits.window,
            [
                (buckets.pair.clone(), self.limits.per_pair),
                (buckets.username.clone(), per_username),
                (buckets.address.clone(), self.limits.per_ip),
            ],
        );
        rule.subject = Some(buckets.username.clone());
        rule
    }

    /// Runs `login` (a credential check) once the counters admit it; a wrong guess stays counted,
    /// any other outcome is withdrawn. A success also resets its (username, address) pair and
    /// remembers it as a known source — the per-username and per-address counters keep their
    /// failures, so a success cannot launder an attacker's budget.
    pub async fn attempt<T, E, F>(
        &self,
        username: &str,
        client: ClientAddress,
        login: F,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: LoginFailure,
    {
        let buckets = LoginBuckets::of(username, client);
        let known_source = self.is_known_source(&buckets).await?;
        let rule = self.rule(&buckets, known_source, client);
        let outcome = self
            .counters
            .attempt(
                rule,
                login,
                |outcome| matches!(outcome, Err(error) if error.is_wrong_guess()),
            )
            .await;
        if outcome.is_ok() {
            let events = &self.counters.events;
            if self.limits.per_pair > 0 {
                events
                    .clear(buckets.pair)
                    .await
                    .map_err(|e| E::from(e.into()))?;
            }
            if self.tracks_sources() {
                events
                    .remember_source(buckets.source, self.counters.clock.now())
                    .await
                    .map_err(|e| E::from(e.into()))?;
            }
        }
        outcome
    }

    /// Lifts every failed-login lock of `username`: forgets each failure counted against it, in
    /// its per-username counter, its (username, address) pairs and the per-address counters they
    /// added to. Returns how many counted events went.
    pub async fn lift(&self, username: &str) -> Result<u64, AppError> {
        let subject = username_bucket(&UsernameKey::of(username));
        let forgotten = self.counters.events.clear_subject(subject).await?;
        tracing::info!(forgotten, "failed-login lock lifted");
        Ok(forgotten)
    }
}

/// Sign-up throttle: at most `limit.max` account-creating attempts per client address per
/// window, so one client cannot mass-create accounts (each worth a sign-up grant) or enumerate
/// taken usernames.
pub struct SignupThrottle {
    counters: Counters,
    limit: RateLimit,
}

impl SignupThrottle {
    /// Wires the throttle.
    pub fn new(
        events: Arc<dyn ThrottleRepository>,
        clock: Arc<dyn Clock>,
        limit: RateLimit,
    ) -> Self {
        Self {
            counters: Counters { events, clock },
            limit,
        }
    }

    /// Runs `register` (hashing and storing an already validated account) once `client`'s
    /// counter admits it. Every admitted attempt counts, whatever its outcome: it reached password
    /// hashing, which is what the limit protects, and a name found taken answers a question.
    /// Validate input before calling this, so that a user fixing a weak password is not punished.
    pub async fn attempt<T, F>(&self, client: ClientAddress, register: F) -> Result<T, AppError>
    where
        F: Future<Output = Result<T, AppError>>,
    {
        let rule = Rule::new(
            "sign-up",
            client,
            self.limit.window,
            [(
                bucket(&["signup-ip", &client.throttle_key()]),
                self.limit.max,
            )],
        );
        self.counters.attempt(rule, register, |_| true).await
    }
}

#[cfg(test)]
mod tests;
