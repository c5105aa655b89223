//! Throttling of guessable operations (DESIGN.md §1 `throttled`, issue 5).
//!
//! Failed logins are counted in three sliding windows at once, so that an attacker cannot lock a
//! victim out from afar:
//! - per (username key, client IP) pair — the tight limit (5 / 15 min): guessing one account
//!   from one address stops quickly, while the victim on *another* address is unaffected;
//! - per username across all addresses (20): a distributed guess against one account is bounded;
//! - per address across all usernames (100): one address spraying many accounts is bounded.
//!
//! A throttled attempt is refused *before* the password is checked (no bcrypt work, no oracle).
//! A successful login resets its own pair only. Counters live in storage
//! ([`ThrottleRepository`]), so every process shares them. The admin panel's login reuses
//! [`LoginThrottle`] as is; sign-ups use [`SignupThrottle`].

use std::{future::Future, net::IpAddr, sync::Arc, time::Duration};

use crate::{AppError, digest::sha256_hex};
use chrono::{DateTime, Utc};
use domain::UsernameKey;
use ports::{BucketUsage, Clock, ThrottleRepository};

/// Login limits; a limit of 0 disables that counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per (username, IP) pair within `window`.
    pub per_pair: u64,
    /// Failures allowed per username across all IPs within `window`.
    pub per_username: u64,
    /// Failures allowed per IP across all usernames within `window`.
    pub per_ip: u64,
    /// The sliding window.
    pub window: Duration,
}

impl LoginLimits {
    /// The limits of the issue: 5 per pair, 20 per username, 100 per IP, 15 minutes.
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

/// The address throttles count by. IPv4-mapped IPv6 addresses count as their IPv4 address, and
/// other IPv6 addresses by their /64 prefix: one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would give an attacker 2^64 fresh budgets.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
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

fn chrono_window(window: Duration) -> chrono::Duration {
    chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

/// Seconds until every over-limit bucket is below its limit again, if any is over.
fn retry_after(
    usage: &[BucketUsage],
    limits: &[u64],
    window: Duration,
    now: DateTime<Utc>,
) -> Option<u64> {
    let window = chrono_window(window);
    usage
        .iter()
        .zip(limits)
        .filter(|(usage, limit)| **limit > 0 && usage.count >= **limit)
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

fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(chrono_window(window))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Failed-login throttle. Handlers wrap the credential check in [`LoginThrottle::attempt`].
pub struct LoginThrottle {
    events: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
    limits: LoginLimits,
}

/// The three counters one login attempt touches.
struct LoginBuckets {
    pair: String,
    username: String,
    address: String,
}

impl LoginBuckets {
    fn of(username: &str, ip: IpAddr) -> Self {
        let key = UsernameKey::of(username);
        let address = address_key(ip);
        Self {
            pair: bucket(&["login-pair", key.as_str(), &address]),
            username: bucket(&["login-username", key.as_str()]),
            address: bucket(&["login-ip", &address]),
        }
    }
}

impl LoginThrottle {
    /// Wires the throttle.
    pub fn new(
        events: Arc<dyn ThrottleRepository>,
        clock: Arc<dyn Clock>,
        limits: LoginLimits,
    ) -> Self {
        Self {
            events,
            clock,
            limits,
        }
    }

    /// `Err(Throttled)` when any of the three counters for this attempt is at its limit.
    /// `username` is what the client typed; it is compared by its case-insensitive key.
    pub async fn check(&self, username: &str, ip: IpAddr) -> Result<(), AppError> {
        let buckets = LoginBuckets::of(username, ip);
        let now = self.clock.now();
        let usage = self
            .events
            .usage(
                vec![buckets.pair, buckets.username, buckets.address],
                window_start(now, self.limits.window),
            )
            .await?;
        let limits = [
            self.limits.per_pair,
            self.limits.per_username,
            self.limits.per_ip,
        ];
        match retry_after(&usage, &limits, self.limits.window, now) {
            Some(retry_after_secs) => {
                tracing::warn!(%ip, retry_after_secs, "login throttled");
                Err(AppError::Throttled { retry_after_secs })
            }
            None => Ok(()),
        }
    }

    /// Counts one failed login in all three windows.
    pub async fn record_failure(&self, username: &str, ip: IpAddr) -> Result<(), AppError> {
        let buckets = LoginBuckets::of(username, ip);
        self.events
            .record(
                vec![buckets.pair, buckets.username, buckets.address],
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// A successful login forgets the failures of its own (username, IP) pair; the per-username
    /// and per-IP counters keep theirs, so a success cannot launder an attacker's budget.
    pub async fn record_success(&self, username: &str, ip: IpAddr) -> Result<(), AppError> {
        self.events
            .clear(LoginBuckets::of(username, ip).pair)
            .await?;
        Ok(())
    }

    /// Runs `login` (a credential check) unless throttled, and counts its outcome: a failure on
    /// `InvalidCredentials`, a reset on success. `login` is not polled when throttled, so the
    /// password is never checked then.
    pub async fn attempt<T, F>(&self, username: &str, ip: IpAddr, login: F) -> Result<T, AppError>
    where
        F: Future<Output = Result<T, AppError>>,
    {
        self.check(username, ip).await?;
        let result = login.await;
        match &result {
            Ok(_) => self.record_success(username, ip).await?,
            Err(AppError::InvalidCredentials) => self.record_failure(username, ip).await?,
            Err(_) => {}
        }
        result
    }
}

/// Sign-up throttle: at most `limit.max` account-creating attempts per client address per
/// window, so one client cannot mass-create accounts (each worth a sign-up grant) or enumerate
/// taken usernames.
pub struct SignupThrottle {
    events: Arc<dyn ThrottleRepository>,
    clock: Arc<dyn Clock>,
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
            events,
            clock,
            limit,
        }
    }

    fn bucket(ip: IpAddr) -> String {
        bucket(&["signup-ip", &address_key(ip)])
    }

    /// Runs `register` unless `ip` is at its limit. Attempts that reach storage (an account
    /// created, or a username found taken) count; input rejected by validation does not, so a
    /// user fixing a weak password is not punished.
    pub async fn attempt<T, F>(&self, ip: IpAddr, register: F) -> Result<T, AppError>
    where
        F: Future<Output = Result<T, AppError>>,
    {
        if self.limit.max > 0 {
            let now = self.clock.now();
            let usage = self
                .events
                .usage(vec![Self::bucket(ip)], window_start(now, self.limit.window))
                .await?;
            if let Some(retry_after_secs) =
                retry_after(&usage, &[self.limit.max], self.limit.window, now)
            {
                tracing::warn!(%ip, retry_after_secs, "sign-up throttled");
                return Err(AppError::Throttled { retry_after_secs });
            }
        }
        let result = register.await;
        if self.limit.max > 0 && matches!(result, Ok(_) | Err(AppError::UsernameTaken)) {
            self.events
                .record(vec![Self::bucket(ip)], self.clock.now())
                .await?;
        }
        result
    }
}

#[cfg(test)]
mod tests;
