//! Fixtures shared by the use-case tests.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::{Tokens, User, UserId, Username};
use ports::{Clock, MockClock};

/// 2025-01-01T12:00:00Z, the timestamp of DESIGN.md's example.
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

/// An active, non-admin user.
pub fn user(id: i64, tokens: i64) -> User {
    User {
        id: UserId(id),
        username: Username::from_trusted(format!("user{id}")),
        tokens: Tokens::new(tokens),
        is_active: true,
        is_superuser: false,
        date_joined: noon(),
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
pub fn issued(user_id: UserId, kind: ports::TokenKind, now: DateTime<Utc>) -> ports::IssuedToken {
    let prefix = match kind {
        ports::TokenKind::Access => "access",
        ports::TokenKind::Refresh => "refresh",
    };
    ports::IssuedToken {
        token: format!("{prefix}-{}", user_id.0),
        claims: ports::Claims {
            user_id,
            kind,
            jti: uuid::Uuid::nil(),
            family: uuid::Uuid::nil(),
            issued_at: now,
            expires_at: now + chrono::Duration::minutes(5),
        },
    }
}

/// A hasher that expects exactly one verification against `expected_hash` and answers `matches`;
/// its dummy hash is `"dummy"` (what a login verifies against for an unknown user).
pub fn hasher_verifying(expected_hash: &'static str, matches: bool) -> ports::MockPasswordHasher {
    let mut hasher = ports::MockPasswordHasher::new();
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
