use std::{
    collections::HashMap,
    future::Future,
    net::{Ipv4Addr, Ipv6Addr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_executor::block_on;
use ports::{
    Admission, Attempt, AttemptTicket, BucketUsage, MockThrottleRepository, StorageError,
    ThrottleRepository,
};

use super::*;
use crate::test_support::ManualClock;

/// One recorded event: id, time, subject.
type Event = (i64, DateTime<Utc>, Option<String>);

/// An in-memory event log: expressive enough to test windows without a database.
#[derive(Default)]
struct MemoryEvents {
    events: Mutex<HashMap<String, Vec<Event>>>,
    sources: Mutex<HashMap<String, DateTime<Utc>>>,
    next_id: Mutex<i64>,
}

impl MemoryEvents {
    fn usage(&self, bucket: &str, since: DateTime<Utc>) -> BucketUsage {
        let events = self.events.lock().unwrap();
        let recent: Vec<_> = events
            .get(bucket)
            .into_iter()
            .flatten()
            .filter(|(_, at, _)| *at > since)
            .map(|(_, at, _)| *at)
            .collect();
        BucketUsage {
            count: recent.len() as u64,
            oldest: recent.into_iter().min(),
        }
    }
}

#[async_trait]
impl ThrottleRepository for MemoryEvents {
    async fn admit(&self, attempt: Attempt) -> Result<Admission, StorageError> {
        let mut next_id = self.next_id.lock().unwrap();
        let usage: Vec<_> = attempt
            .buckets
            .iter()
            .map(|b| self.usage(&b.bucket, attempt.since))
            .collect();
        if usage
            .iter()
            .zip(&attempt.buckets)
            .any(|(u, b)| u.count >= b.limit)
        {
            return Ok(Admission::Refused(usage));
        }
        let mut events = self.events.lock().unwrap();
        let mut ticket = AttemptTicket::default();
        for bucket in attempt.buckets {
            *next_id += 1;
            ticket.0.push(*next_id);
            events.entry(bucket.bucket).or_default().push((
                *next_id,
                attempt.at,
                attempt.subject.clone(),
            ));
        }
        Ok(Admission::Admitted(ticket))
    }

    async fn withdraw(&self, ticket: AttemptTicket) -> Result<(), StorageError> {
        for events in self.events.lock().unwrap().values_mut() {
            events.retain(|(id, _, _)| !ticket.0.contains(id));
        }
        Ok(())
    }

    async fn clear(&self, bucket: String) -> Result<(), StorageError> {
        self.events.lock().unwrap().remove(&bucket);
        Ok(())
    }

    async fn clear_subject(&self, subject: String) -> Result<u64, StorageError> {
        let mut forgotten = 0;
        for events in self.events.lock().unwrap().values_mut() {
            let before = events.len();
            events.retain(|(_, _, of)| of.as_deref() != Some(subject.as_str()));
            forgotten += (before - events.len()) as u64;
        }
        Ok(forgotten)
    }

    async fn prune_events(&self, _before: DateTime<Utc>) -> Result<u64, StorageError> {
        Ok(0)
    }

    async fn is_known_source(
        &self,
        source: String,
        since: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self
            .sources
            .lock()
            .unwrap()
            .get(&source)
            .is_some_and(|at| *at > since))
    }

    async fn remember_source(&self, source: String, at: DateTime<Utc>) -> Result<(), StorageError> {
        self.sources.lock().unwrap().insert(source, at);
        Ok(())
    }

    async fn prune_sources(&self, _before: DateTime<Utc>) -> Result<u64, StorageError> {
        Ok(0)
    }
}

fn ip(last: u8) -> ClientAddress {
    ClientAddress::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)))
}

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn login_throttle() -> (LoginThrottle, Arc<ManualClock>) {
    let clock = ManualClock::at_noon();
    let throttle = LoginThrottle::new(
        Arc::new(MemoryEvents::default()),
        clock.clone(),
        LoginLimits::DEFAULT,
    );
    (throttle, clock)
}

async fn wrong_password() -> Result<(), AppError> {
    Err(AppError::InvalidCredentials)
}

async fn right_password() -> Result<(), AppError> {
    Ok(())
}

/// Whether a login as `username` from `address` is throttled now. The probe is a login that ends
/// in a blank-field error, which does not count, so probing changes no counter.
fn throttled(throttle: &LoginThrottle, username: &str, address: ClientAddress) -> bool {
    let probe = block_on(throttle.attempt(username, address, async {
        Err::<(), _>(AppError::invalid_field("password", "blank"))
    }));
    matches!(probe, Err(AppError::Throttled { .. }))
}

fn fail_times(throttle: &LoginThrottle, username: &str, address: ClientAddress, times: usize) {
    for _ in 0..times {
        assert_eq!(
            block_on(throttle.attempt(username, address, wrong_password())),
            Err(AppError::InvalidCredentials)
        );
    }
}

#[test]
fn five_failures_throttle_the_pair_without_checking_the_password() {
    let (throttle, _) = login_throttle();
    fail_times(&throttle, "victim", ip(1), 5);
    let checked = AtomicBool::new(false);
    let result = block_on(throttle.attempt("victim", ip(1), async {
        checked.store(true, Ordering::SeqCst);
        Ok::<(), AppError>(())
    }));
    assert_eq!(
        result,
        Err(AppError::Throttled {
            retry_after_secs: 900
        })
    );
    assert!(
        !checked.load(Ordering::SeqCst),
        "the password must not be checked"
    );
}

#[test]
fn an_attacker_on_one_ip_does_not_lock_out_the_victim_on_another() {
    let (throttle, _) = login_throttle();
    fail_times(&throttle, "victim", ip(66), 5);
    assert!(matches!(
        block_on(throttle.attempt("victim", ip(66), right_password())),
        Err(AppError::Throttled { .. })
    ));
    assert_eq!(
        block_on(throttle.attempt("victim", ip(1), right_password())),
        Ok(())
    );
}

#[test]
fn username_case_variants_share_one_counter() {
    let (throttle, _) = login_throttle();
    for name in ["Victim", "VICTIM", "victim", "ＶＩＣＴＩＭ", "vIcTiM"] {
        fail_times(&throttle, name, ip(1), 1);
    }
    assert!(throttled(&throttle, "victim", ip(1)));
}

#[test]
fn twenty_failures_across_ips_throttle_the_username_everywhere() {
    let (throttle, _) = login_throttle();
    for address in 1..=4 {
        fail_times(&throttle, "victim", ip(address), 5);
    }
    assert!(throttled(&throttle, "victim", ip(200)));
    assert!(!throttled(&throttle, "someone_else", ip(200)));
}

#[test]
fn a_hundred_failures_from_one_ip_throttle_it_for_every_username() {
    let (throttle, _) = login_throttle();
    for user in 0..25 {
        fail_times(&throttle, &format!("user{user}"), ip(9), 4);
    }
    assert!(throttled(&throttle, "fresh_user", ip(9)));
    assert!(!throttled(&throttle, "fresh_user", ip(10)));
}

#[test]
fn failures_leave_the_window_and_retry_after_counts_down() {
    let (throttle, clock) = login_throttle();
    fail_times(&throttle, "victim", ip(1), 1);
    clock.advance(seconds(60));
    fail_times(&throttle, "victim", ip(1), 4);
    clock.advance(seconds(100));
    assert_eq!(
        block_on(throttle.attempt("victim", ip(1), right_password())),
        Err(AppError::Throttled {
            retry_after_secs: 900 - 160
        })
    );
    clock.advance(seconds(900 - 160));
    assert!(!throttled(&throttle, "victim", ip(1)));
}

#[test]
fn a_success_resets_its_pair_but_not_the_wider_counters() {
    let (throttle, _) = login_throttle();
    fail_times(&throttle, "victim", ip(1), 4);
    assert_eq!(
        block_on(throttle.attempt("victim", ip(1), right_password())),
        Ok(())
    );
    fail_times(&throttle, "victim", ip(1), 4);
    assert!(!throttled(&throttle, "victim", ip(1)));
    // The 8 failures still count towards the per-username cap of 20.
    for address in 2..=3 {
        fail_times(&throttle, "victim", ip(address), 5);
    }
    fail_times(&throttle, "victim", ip(4), 2);
    assert!(throttled(&throttle, "victim", ip(5)));
}

#[test]
fn other_errors_are_not_counted() {
    let (throttle, _) = login_throttle();
    for _ in 0..10 {
        let _ = block_on(throttle.attempt("victim", ip(1), async {
            Err::<(), _>(AppError::invalid_field("password", "blank"))
        }));
    }
    assert!(!throttled(&throttle, "victim", ip(1)));
}

#[test]
fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
    let key = |ip: &str| ClientAddress::new(ip.parse().unwrap()).throttle_key();
    assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
    assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped());
    assert_eq!(ClientAddress::new(mapped).throttle_key(), "198.51.100.7");
    assert_eq!(
        ClientAddress::new(IpAddr::V6(Ipv6Addr::LOCALHOST)).throttle_key(),
        "0:0:0:0::/64"
    );
}

#[test]
fn a_zero_limit_disables_its_counter() {
    let throttle = LoginThrottle::new(
        Arc::new(MemoryEvents::default()),
        ManualClock::at_noon(),
        LoginLimits {
            per_pair: 0,
            per_username: 0,
            per_ip: 0,
            ..LoginLimits::DEFAULT
        },
    );
    fail_times(&throttle, "victim", ip(1), 30);
    assert!(!throttled(&throttle, "victim", ip(1)));
}

#[test]
fn storage_outage_fails_closed_as_unavailable() {
    let mut events = MockThrottleRepository::new();
    events.expect_is_known_source().returning(|_, _| Ok(false));
    events
        .expect_admit()
        .returning(|_| Err(StorageError::Unavailable("down".into())));
    let throttle = LoginThrottle::new(
        Arc::new(events),
        crate::test_support::fixed_clock(),
        LoginLimits::DEFAULT,
    );
    assert_eq!(
        block_on(throttle.attempt("victim", ip(1), right_password())),
        Err(AppError::StorageUnavailable)
    );
}

fn signup_throttle(max: u64) -> (SignupThrottle, Arc<ManualClock>) {
    let clock = ManualClock::at_noon();
    let throttle = SignupThrottle::new(
        Arc::new(MemoryEvents::default()),
        clock.clone(),
        RateLimit {
            max,
            window: Duration::from_secs(3600),
        },
    );
    (throttle, clock)
}

#[test]
fn sign_ups_are_limited_per_ip_and_window() {
    let (throttle, clock) = signup_throttle(3);
    assert_eq!(block_on(throttle.attempt(ip(1), async { Ok(()) })), Ok(()));
    assert_eq!(
        block_on(throttle.attempt(ip(1), async { Err::<(), _>(AppError::UsernameTaken) })),
        Err(AppError::UsernameTaken)
    );
    assert_eq!(block_on(throttle.attempt(ip(1), async { Ok(()) })), Ok(()));
    assert_eq!(
        block_on(throttle.attempt(ip(1), async { Ok(()) })),
        Err(AppError::Throttled {
            retry_after_secs: 3600
        })
    );
    assert_eq!(block_on(throttle.attempt(ip(2), async { Ok(()) })), Ok(()));
    clock.advance(seconds(3600));
    assert_eq!(block_on(throttle.attempt(ip(1), async { Ok(()) })), Ok(()));
}

#[test]
fn every_admitted_sign_up_counts_whatever_its_outcome() {
    let (throttle, _) = signup_throttle(2);
    assert_eq!(
        block_on(throttle.attempt(ip(1), async { Err::<(), _>(AppError::StorageUnavailable) })),
        Err(AppError::StorageUnavailable)
    );
    assert_eq!(block_on(throttle.attempt(ip(1), async { Ok(()) })), Ok(()));
    assert!(matches!(
        block_on(throttle.attempt(ip(1), async { Ok(()) })),
        Err(AppError::Throttled { .. })
    ));
}

/// A future that is pending once: whatever runs concurrently gets a turn here, as it would
/// during a real bcrypt verification.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

#[test]
fn a_burst_of_concurrent_wrong_guesses_checks_no_more_passwords_than_the_pair_limit() {
    let (throttle, _) = login_throttle();
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let guesses = (0..40).map(|_| {
        throttle.attempt("victim", ip(1), async {
            checked.fetch_add(1, Ordering::SeqCst);
            YieldOnce(false).await;
            Err::<(), _>(AppError::InvalidCredentials)
        })
    });
    let outcomes = block_on(futures_util::future::join_all(guesses));
    assert_eq!(checked.load(Ordering::SeqCst), 5);
    let throttled = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AppError::Throttled { .. })))
        .count();
    assert_eq!(throttled, 35);
}

#[test]
fn a_known_source_is_exempt_from_the_per_username_limit_for_its_window_only() {
    let (throttle, clock) = login_throttle();
    assert_eq!(
        block_on(throttle.attempt("owner", ip(1), right_password())),
        Ok(())
    );
    for address in 60..64 {
        fail_times(&throttle, "owner", ip(address), 5);
    }
    assert!(
        throttled(&throttle, "owner", ip(99)),
        "strangers are capped"
    );
    assert_eq!(
        block_on(throttle.attempt("OWNER", ip(1), right_password())),
        Ok(()),
        "the owner at home is not"
    );
    fail_times(&throttle, "owner", ip(1), 5);
    assert!(
        throttled(&throttle, "owner", ip(1)),
        "the pair limit still bounds guessing from there"
    );
    clock.advance(seconds(30 * 24 * 3600));
    for address in 70..74 {
        fail_times(&throttle, "owner", ip(address), 5);
    }
    assert!(
        throttled(&throttle, "owner", ip(1)),
        "the exemption ran out after 30 days"
    );
}

#[test]
fn lifting_a_username_forgets_every_failure_counted_against_it_and_nothing_else() {
    let (throttle, _) = login_throttle();
    for address in 1..=4 {
        fail_times(&throttle, "victim", ip(address), 5);
    }
    fail_times(&throttle, "bystander", ip(1), 5);
    assert!(throttled(&throttle, "victim", ip(1)));
    assert!(throttled(&throttle, "victim", ip(200)));
    assert_eq!(block_on(throttle.lift("VICTIM")), Ok(20 * 3));
    assert!(!throttled(&throttle, "victim", ip(1)));
    assert!(!throttled(&throttle, "victim", ip(200)));
    assert!(throttled(&throttle, "bystander", ip(1)));
}
