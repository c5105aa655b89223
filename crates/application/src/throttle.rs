//! Throttling of guessable operations: failed logins and sign-ups (the `throttled` answer, 429
//! with `Retry-After`). The use cases that run those operations ([`crate::Login`],
//! [`crate::Register::sign_up`], [`crate::admin::AdminAuth::login`]) enforce their throttle
//! themselves, so no caller can forget it; the client's address is one of their inputs.
//!
//! Failed logins are counted in three sliding windows at once, so that an attacker cannot lock a
//! victim out from afar:
//! - per (username key, client address) pair — the tight limit (5 / 15 min): guessing one
//!   account from one address stops quickly, while the victim on *another* address is unaffected;
//! - per username across all addresses (20): a distributed guess against one account is bounded;
//! - per address across all usernames (100): one address spraying many accounts is bounded.
//!
//! A throttled attempt is refused *before* it runs (no bcrypt work, no oracle). A successful
//! login resets its own pair only. The API's `/login/` and the admin panel's login share one
//! [`LoginThrottle`], hence one budget; sign-ups use [`SignupThrottle`]. Both run through one
//! generic `attempt` (check, run, count). Counters live in storage ([`ThrottleRepository`]), so
//! every process shares them.

use std::{future::Future, net::IpAddr, sync::Arc, time::Duration};

use crate::{AppError, digest::sha256_hex};
use chrono::{DateTime, Utc};
use domain::UsernameKey;
use ports::{BucketUsage, Clock, ThrottleRepository};

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
}

impl LoginLimits {
    /// The defaults: 5 per pair, 20 per username, 100 per address, 15 minutes.
    pub const DEFAULT: Self = Self {
        per_pair: 5,
        per_username: 20,
        per_ip: 100,
        window: Duration::from_secs(15 * 60),
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

/// One counter an attempt is checked against and counted in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    bucket: String,
    limit: u64,
}

/// The counters of one attempt, in one sliding window. Counters whose limit is 0 are left out, so
/// a disabled limit costs no storage work.
#[derive(Debug, Clone)]
struct Rule {
    /// For the log line of a refusal.
    name: &'static str,
    client: ClientAddress,
    window: Duration,
    counters: Vec<Counter>,
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
            .map(|(bucket, limit)| Counter { bucket, limit })
            .collect();
        Self {
            name,
            client,
            window,
            counters,
        }
    }

    fn buckets(&self) -> Vec<String> {
        self.counters.iter().map(|c| c.bucket.clone()).collect()
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

/// What an attempt's outcome does to its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tally {
    /// One more event in every counter (a wrong guess; a sign-up that reached storage).
    Count,
    /// Forget this bucket's events (a successful login resets its pair).
    Reset(String),
    /// Leave the counters alone (input refused before anything was guessed or created).
    Keep,
}

/// The counters in storage and the clock they are read against: the engine behind every
/// throttle.
struct Counters {
    events: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
}

impl Counters {
    /// `Err(Throttled)` when any counter of `rule` is at its limit.
    async fn check(&self, rule: &Rule) -> Result<(), AppError> {
        if rule.counters.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let usage = self
            .events
            .usage(rule.buckets(), rule.window_start(now))
            .await?;
        match rule.retry_after(&usage, now) {
            Some(retry_after_secs) => {
                tracing::warn!(
                    throttle = rule.name,
                    client = %rule.client,
                    retry_after_secs,
                    "attempt throttled"
                );
                Err(AppError::Throttled { retry_after_secs })
            }
            None => Ok(()),
        }
    }

    /// Runs `work` unless `rule` is at a limit, then applies what `tally` makes of its outcome.
    /// `work` is not polled when throttled, so nothing it would check or write happens then. A
    /// storage failure while counting fails the attempt (closed, never open).
    ///
    /// The check and the count are separate storage calls, so attempts running concurrently can
    /// overshoot a limit by their number; making them one atomic step is a change to this
    /// function and the throttle port alone.
    async fn attempt<T, E, F>(
        &self,
        rule: Rule,
        work: F,
        tally: impl FnOnce(&Result<T, E>) -> Tally,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<AppError>,
    {
        self.check(&rule).await?;
        let outcome = work.await;
        if !rule.counters.is_empty() {
            match tally(&outcome) {
                Tally::Count => self
                    .events
                    .record(rule.buckets(), self.clock.now())
                    .await
                    .map_err(|e| E::from(e.into()))?,
                Tally::Reset(bucket) => self
                    .events
                    .clear(bucket)
                    .await
                    .map_err(|e| E::from(e.into()))?,
                Tally::Keep => {}
            }
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
/// client) from `client`.
struct LoginBuckets {
    pair: String,
    username: String,
    address: String,
}

impl LoginBuckets {
    fn of(username: &str, client: ClientAddress) -> Self {
        let key = UsernameKey::of(username);
        let address = client.throttle_key();
        Self {
            pair: bucket(&["login-pair", key.as_str(), &address]),
            username: bucket(&["login-username", key.as_str()]),
            address: bucket(&["login-ip", &address]),
        }
    }
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

    /// The three counters of a login as `username` from `client`.
    fn rule(&self, buckets: LoginBuckets, client: ClientAddress) -> Rule {
        Rule::new(
            "login",
            client,
            self.limits.window,
            [
                (buckets.pair, self.limits.per_pair),
                (buckets.username, self.limits.per_username),
                (buckets.address, self.limits.per_ip),
            ],
        )
    }

    /// `Err(Throttled)` when any of the three counters for this login is at its limit.
    pub async fn check(&self, username: &str, client: ClientAddress) -> Result<(), AppError> {
        let rule = self.rule(LoginBuckets::of(username, client), client);
        self.counters.check(&rule).await
    }

    /// Runs `login` (a credential check) unless throttled, and counts its outcome: a failure on
    /// a wrong guess, a reset of its (username, address) pair on success — the per-username and
    /// per-address counters keep their failures, so a success cannot launder an attacker's
    /// budget.
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
        let pair = buckets.pair.clone();
        self.counters
            .attempt(self.rule(buckets, client), login, |outcome| match outcome {
                Ok(_) => Tally::Reset(pair),
                Err(error) if error.is_wrong_guess() => Tally::Count,
                _ => Tally::Keep,
            })
            .await
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

    /// Runs `register` unless `client` is at its limit. Attempts that reach storage (an account
    /// created, or a username found taken) count; input rejected by validation does not, so a
    /// user fixing a weak password is not punished.
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
        self.counters
            .attempt(rule, register, |outcome| match outcome {
                Ok(_) | Err(AppError::UsernameTaken) => Tally::Count,
                Err(_) => Tally::Keep,
            })
            .await
    }
}

#[cfg(test)]
mod tests;
