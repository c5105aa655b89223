//! Fixtures shared by the use-case tests.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use domain::{Tokens, User, UserId, Username};
use ports::{Admission, BucketUsage, Clock, MockClock, MockThrottleRepository};

use crate::throttle::{ClientAddress, LoginLimits, LoginThrottle, RateLimit, SignupThrottle};

/// 2025-01-01T12:00:00Z: a fixed, readable instant for tests.
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A clock stuck at [`noon`].
pub fn fixed_clock() -> Arc<dyn Clock> {
    let mut clock = MockClock::new();
    clock.expect_now().returning(noon);
    Arc::new(clock)
}

/// A clock that stands still until a test (or a use case's `sleep`) moves it forward; sleeping
/// takes no real time.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock at [`noon`].
    pub fn at_noon() -> Arc<Self> {
        Arc::new(Self(Mutex::new(noon())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(chrono::Duration::from_std(duration).unwrap());
    }
}

/// The address the use-case tests log in and sign up from.
pub const CLIENT: ClientAddress = ClientAddress::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));

/// A login throttle with every limit off: it never touches storage (the mock has no
/// expectations, so any call would fail the test).
pub fn no_login_limits() -> Arc<LoginThrottle> {
    let limits = LoginLimits {
        per_pair: 0,
        per_username: 0,
        per_ip: 0,
        ..LoginLimits::DEFAULT
    };
    Arc::new(LoginThrottle::new(
        Arc::new(MockThrottleRepository::new()),
        fixed_clock(),
        limits,
    ))
}

/// A sign-up throttle with its limit off (never touches storage).
pub fn no_signup_limit() -> SignupThrottle {
    SignupThrottle::new(
        Arc::new(MockThrottleRepository::new()),
        fixed_clock(),
        RateLimit {
            max: 0,
            window: Duration::from_secs(3600),
        },
    )
}

/// Throttle counters that report every bucket full since [`noon`]: any throttled attempt is
/// refused, and nothing is recorded or cleared.
pub fn full_counters() -> MockThrottleRepository {
    let mut events = MockThrottleRepository::new();
    events.expect_admit().returning(|attempt| {
        let full = BucketUsage {
            count: u64::MAX,
            oldest: Some(noon()),
        };
        Ok(Admission::Refused(vec![full; attempt.buckets.len()]))
    });
    events.expect_is_known_source().returning(|_, _| Ok(false));
    events.expect_withdraw().never();
    events.expect_clear().never();
    events
}

/// An active, non-admin user.
pub fn user(id: i64, tokens: i64) -> User {
    User {
        id: UserId(id),
        username: Username::from_trusted(format!("user{id}")),
        tokens: Tokens::new(tokens),
        is_active: true,
        is_superuser: false,
        date_joined: noon(),
        credentials_version: 0,
    }
}

/// An active superuser.
pub fn superuser(id: i64) -> User {
    User {
        is_superuser: true,
        ..user(id, 0)
    }
}

/// A user repository whose `find_by_id` answers `found`, whatever the id.
pub fn users_by_id(found: Option<User>) -> ports::MockUserRepository {
    let mut users = ports::MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(move |_| Ok(found.clone()));
    users
}

/// A list page with no rows.
pub fn empty_page<T>() -> ports::Page<T> {
    ports::Page {
        items: Vec::new(),
        total: 0,
    }
}

/// What a mock issuer hands out: `access-<id>` / `refresh-<id>`, valid for five minutes.
pub fn issued(
    subject: ports::TokenSubject,
    kind: ports::TokenKind,
    now: DateTime<Utc>,
) -> ports::IssuedToken {
    let prefix = match kind {
        ports::TokenKind::Access => "access",
        ports::TokenKind::Refresh => "refresh",
    };
    ports::IssuedToken {
        token: format!("{prefix}-{}", subject.user_id.0),
        claims: ports::Claims {
            user_id: subject.user_id,
            kind,
            jti: uuid::Uuid::nil(),
            family: uuid::Uuid::nil(),
            credentials_version: subject.credentials_version,
            issued_at: now,
            expires_at: now + chrono::Duration::minutes(5),
        },
    }
}

/// A hasher that expects exactly one verification against `expected_hash` and answers `matches`;
/// its dummy hash is `"dummy"` (what a login verifies against for an unknown user), and no stored
/// hash needs rehashing.
pub fn hasher_verifying(expected_hash: &'static str, matches: bool) -> ports::MockPasswordHasher {
    let mut hasher = ports::MockPasswordHasher::new();
    hasher.expect_needs_rehash().returning(|_| false);
    hasher
        .expect_dummy_hash()
        .returning(|| ports::PasswordHash("dummy".into()));
    hasher
        .expect_verify()
        .withf(move |_, hash| hash.0 == expected_hash)
        .times(1)
        .returning(move |_, _| Ok(matches));
    hasher
}
