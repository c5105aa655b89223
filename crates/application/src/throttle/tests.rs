use std::{
    collections::HashMap,
    net::{Ipv4Addr, Ipv6Addr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_executor::block_on;
use ports::{BucketUsage, MockThrottleRepository, StorageError, ThrottleRepository};

use super::*;
use crate::test_support::ManualClock;

/// An in-memory event log: expressive enough to test windows without a database.
#[derive(Default)]
struct MemoryEvents(Mutex<HashMap<String, Vec<DateTime<Utc>>>>);

#[async_trait]
impl ThrottleRepository for MemoryEvents {
    async fn usage(
        &self,
        buckets: Vec<String>,
        since: DateTime<Utc>,
    ) -> Result<Vec<BucketUsage>, StorageError> {
        let events = self.0.lock().unwrap();
        Ok(buckets
            .iter()
            .map(|bucket| {
                let recent: Vec<_> = events
                    .get(bucket)
                    .into_iter()
                    .flatten()
                    .filter(|at| **at > since)
                    .collect();
                BucketUsage {
                    count: recent.len() as u64,
                    oldest: recent.into_iter().min().copied(),
                }
            })
            .collect())
    }

    async fn record(&self, buckets: Vec<String>, at: DateTime<Utc>) -> Result<(), StorageError> {
        let mut events = self.0.lock().unwrap();
        for bucket in buckets {
            events.entry(bucket).or_default().push(at);
        }
        Ok(())
    }

    async fn clear(&self, bucket: String) -> Result<(), StorageError> {
        self.0.lock().unwrap().remove(&bucket);
        Ok(())
    }

    async fn prune_events(&self, _before: DateTime<Utc>) -> Result<u64, StorageError> {
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
    assert!(block_on(throttle.check("victim", ip(1))).is_err());
}

#[test]
fn twenty_failures_across_ips_throttle_the_username_everywhere() {
    let (throttle, _) = login_throttle();
    for address in 1..=4 {
        fail_times(&throttle, "victim", ip(address), 5);
    }
    assert!(matches!(
        block_on(throttle.check("victim", ip(200))),
        Err(AppError::Throttled { .. })
    ));
    assert_eq!(block_on(throttle.check("someone_else", ip(200))), Ok(()));
}

#[test]
fn a_hundred_failures_from_one_ip_throttle_it_for_every_username() {
    let (throttle, _) = login_throttle();
    for user in 0..25 {
        fail_times(&throttle, &format!("user{user}"), ip(9), 4);
    }
    assert!(matches!(
        block_on(throttle.check("fresh_user", ip(9))),
        Err(AppError::Throttled { .. })
    ));
    assert_eq!(block_on(throttle.check("fresh_user", ip(10))), Ok(()));
}

#[test]
fn failures_leave_the_window_and_retry_after_counts_down() {
    let (throttle, clock) = login_throttle();
    fail_times(&throttle, "victim", ip(1), 1);
    clock.advance(seconds(60));
    fail_times(&throttle, "victim", ip(1), 4);
    clock.advance(seconds(100));
    assert_eq!(
        block_on(throttle.check("victim", ip(1))),
        Err(AppError::Throttled {
            retry_after_secs: 900 - 160
        })
    );
    clock.advance(seconds(900 - 160));
    assert_eq!(block_on(throttle.check("victim", ip(1))), Ok(()));
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
    assert_eq!(block_on(throttle.check("victim", ip(1))), Ok(()));
    // The 8 failures still count towards the per-username cap of 20.
    for address in 2..=3 {
        fail_times(&throttle, "victim", ip(address), 5);
    }
    fail_times(&throttle, "victim", ip(4), 2);
    assert!(block_on(throttle.check("victim", ip(5))).is_err());
}

#[test]
fn other_errors_are_not_counted() {
    let (throttle, _) = login_throttle();
    for _ in 0..10 {
        let _ = block_on(throttle.attempt("victim", ip(1), async {
            Err::<(), _>(AppError::invalid_field("password", "blank"))
        }));
    }
    assert_eq!(block_on(throttle.check("victim", ip(1))), Ok(()));
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
    assert_eq!(block_on(throttle.check("victim", ip(1))), Ok(()));
}

#[test]
fn storage_outage_fails_closed_as_unavailable() {
    let mut events = MockThrottleRepository::new();
    events
        .expect_usage()
        .returning(|_, _| Err(StorageError::Unavailable("down".into())));
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
fn sign_ups_rejected_by_validation_do_not_count() {
    let (throttle, _) = signup_throttle(1);
    for _ in 0..5 {
        let _ = block_on(throttle.attempt(ip(1), async {
            Err::<(), _>(AppError::invalid_field("password", "too short"))
        }));
    }
    assert_eq!(block_on(throttle.attempt(ip(1), async { Ok(()) })), Ok(()));
}
