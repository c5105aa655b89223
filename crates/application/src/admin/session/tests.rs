//! Admin login, sessions and CSRF tokens against mocked ports.

use std::{net::IpAddr, sync::Arc, time::Duration};

use domain::UserId;
use futures_executor::block_on;
use ports::{
    AdminSession, Admission, AttemptTicket, BucketUsage, MockAdminSessionRepository,
    MockPasswordHasher, MockSecretGenerator, MockThrottleRepository, MockUserRepository,
    PasswordHash, UserCredentials,
};

use super::*;
use crate::{
    AppError,
    test_support::{fixed_clock, hasher_verifying, noon, superuser, user, users_by_id},
    throttle::{ClientAddress, LoginLimits, LoginThrottle},
};

fn secrets() -> MockSecretGenerator {
    let mut secrets = MockSecretGenerator::new();
    let mut n = 0;
    secrets.expect_secret().returning(move || {
        n += 1;
        format!("secret-{n}")
    });
    secrets
}

/// Users where `found` has the hash `"real"` and reads back unchanged.
fn users_with(found: Option<domain::User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    let credentials = found.clone();
    users.expect_find_credentials().returning(move |_| {
        Ok(credentials.clone().map(|user| UserCredentials {
            user,
            password_hash: PasswordHash("real".into()),
        }))
    });
    users
        .expect_find_by_id()
        .returning(move |_| Ok(found.clone()));
    users
}

/// Throttle counters that admit every attempt (no known sources) and accept every withdrawal,
/// reset and remembered source.
fn open_throttle() -> MockThrottleRepository {
    let mut events = MockThrottleRepository::new();
    events.expect_is_known_source().returning(|_, _| Ok(false));
    events.expect_admit().returning(|attempt| {
        Ok(Admission::Admitted(AttemptTicket(
            (1..=attempt.buckets.len() as i64).collect(),
        )))
    });
    events.expect_withdraw().returning(|_| Ok(()));
    events.expect_clear().returning(|_| Ok(()));
    events.expect_remember_source().returning(|_, _| Ok(()));
    events
}

fn auth_with_throttle(
    users: MockUserRepository,
    sessions: MockAdminSessionRepository,
    hasher: MockPasswordHasher,
    events: MockThrottleRepository,
) -> AdminAuth {
    let throttle = LoginThrottle::new(Arc::new(events), fixed_clock(), LoginLimits::DEFAULT);
    AdminAuth::new(
        Arc::new(users),
        Arc::new(sessions),
        Arc::new(hasher),
        Arc::new(secrets()),
        fixed_clock(),
        Arc::new(throttle),
        Duration::from_secs(3600),
    )
}

fn auth(
    users: MockUserRepository,
    sessions: MockAdminSessionRepository,
    hasher: MockPasswordHasher,
) -> AdminAuth {
    auth_with_throttle(users, sessions, hasher, open_throttle())
}

const CLIENT: ClientAddress =
    ClientAddress::new(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));

fn no_sessions_written() -> MockAdminSessionRepository {
    let mut sessions = MockAdminSessionRepository::new();
    sessions.expect_create_session().never();
    sessions
}

#[test]
fn a_superuser_logs_in_and_only_the_hash_of_the_session_id_is_stored() {
    let mut sessions = MockAdminSessionRepository::new();
    sessions
        .expect_delete_expired_sessions()
        .times(1)
        .returning(|_| Ok(0));
    sessions
        .expect_create_session()
        .withf(|s| {
            s.id_hash == hash_session_id("secret-1")
                && s.id_hash != "secret-1"
                && s.user_id == UserId(7)
                && s.csrf_token == "secret-2"
                && s.expires_at == noon() + chrono::Duration::hours(1)
        })
        .times(1)
        .returning(|_| Ok(()));
    let started = block_on(
        auth(
            users_with(Some(superuser(7))),
            sessions,
            hasher_verifying("real", true),
        )
        .login("admin", "password123", CLIENT),
    )
    .unwrap();
    assert_eq!(started.session_id, "secret-1");
    assert_eq!(started.expires_at, noon() + chrono::Duration::hours(1));
}

#[test]
fn a_normal_users_correct_credentials_are_refused_like_a_wrong_password() {
    let result = block_on(
        auth(
            users_with(Some(user(2, 0))),
            no_sessions_written(),
            hasher_verifying("real", true),
        )
        .login("user2", "password123", CLIENT),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
}

#[test]
fn wrong_password_unknown_user_and_inactive_admin_are_refused_after_one_verification() {
    let result = block_on(
        auth(
            users_with(Some(superuser(1))),
            no_sessions_written(),
            hasher_verifying("real", false),
        )
        .login("admin", "wrong-pass", CLIENT),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
    let result = block_on(
        auth(
            users_with(None),
            no_sessions_written(),
            hasher_verifying("dummy", true),
        )
        .login("ghost", "password123", CLIENT),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
    let mut inactive = superuser(1);
    inactive.is_active = false;
    let result = block_on(
        auth(
            users_with(Some(inactive)),
            no_sessions_written(),
            hasher_verifying("real", true),
        )
        .login("admin", "password123", CLIENT),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
}

#[test]
fn a_throttled_admin_login_is_refused_before_any_password_work() {
    let mut events = MockThrottleRepository::new();
    events.expect_is_known_source().returning(|_, _| Ok(false));
    events.expect_admit().returning(|attempt| {
        let full = BucketUsage {
            count: 5,
            oldest: Some(noon()),
        };
        Ok(Admission::Refused(vec![full; attempt.buckets.len()]))
    });
    events.expect_withdraw().never();
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().never();
    let result = block_on(
        auth_with_throttle(users, no_sessions_written(), hasher, events).login(
            "admin",
            "password123",
            CLIENT,
        ),
    );
    assert!(
        matches!(result, Err(AdminError::App(AppError::Throttled { retry_after_secs })) if retry_after_secs > 0)
    );
}

#[test]
fn a_failed_admin_login_is_counted_by_the_shared_throttle() {
    let mut events = MockThrottleRepository::new();
    events.expect_is_known_source().returning(|_, _| Ok(false));
    events
        .expect_admit()
        .withf(|attempt| attempt.buckets.len() == 3 && attempt.subject.is_some())
        .times(1)
        .returning(|_| Ok(Admission::Admitted(AttemptTicket(vec![1, 2, 3]))));
    events.expect_withdraw().never();
    events.expect_clear().never();
    let result = block_on(
        auth_with_throttle(
            users_with(Some(superuser(1))),
            no_sessions_written(),
            hasher_verifying("real", false),
            events,
        )
        .login("admin", "wrong-pass", CLIENT),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
}

#[test]
fn blank_credentials_are_refused_without_a_lookup() {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().never();
    let result = block_on(
        auth(users, no_sessions_written(), MockPasswordHasher::new()).login(
            " ",
            "password123",
            CLIENT,
        ),
    );
    assert_eq!(result, Err(AdminError::InvalidCredentials));
}

fn sessions_finding(found: Option<AdminSession>) -> MockAdminSessionRepository {
    let mut sessions = MockAdminSessionRepository::new();
    sessions
        .expect_find_session()
        .withf(|hash, now| hash == hash_session_id("sid") && *now == noon())
        .returning(move |_, _| Ok(found.clone()));
    sessions
}

fn live_session(user_id: i64) -> AdminSession {
    AdminSession {
        user_id: UserId(user_id),
        csrf_token: "csrf".into(),
        expires_at: noon() + chrono::Duration::hours(1),
    }
}

#[test]
fn a_live_session_of_a_superuser_resolves_to_the_admin_and_its_csrf_token() {
    let auth = auth(
        users_by_id(Some(superuser(3))),
        sessions_finding(Some(live_session(3))),
        MockPasswordHasher::new(),
    );
    let identity = block_on(auth.resolve("sid")).unwrap().unwrap();
    assert_eq!(identity.user.id, UserId(3));
    assert_eq!(identity.csrf_token, "csrf");
}

#[test]
fn unknown_sessions_and_demoted_or_deactivated_admins_resolve_to_nobody() {
    let auth1 = auth(
        users_by_id(Some(superuser(3))),
        sessions_finding(None),
        MockPasswordHasher::new(),
    );
    assert_eq!(block_on(auth1.resolve("sid")), Ok(None));
    let auth2 = auth(
        users_by_id(Some(user(3, 0))),
        sessions_finding(Some(live_session(3))),
        MockPasswordHasher::new(),
    );
    assert_eq!(block_on(auth2.resolve("sid")), Ok(None));
    let mut inactive = superuser(3);
    inactive.is_active = false;
    let auth3 = auth(
        users_by_id(Some(inactive)),
        sessions_finding(Some(live_session(3))),
        MockPasswordHasher::new(),
    );
    assert_eq!(block_on(auth3.resolve("sid")), Ok(None));
}

#[test]
fn logout_deletes_the_session_by_hash() {
    let mut sessions = MockAdminSessionRepository::new();
    sessions
        .expect_delete_session()
        .withf(|hash| hash == hash_session_id("sid"))
        .times(1)
        .returning(|_| Ok(()));
    let auth = auth(
        MockUserRepository::new(),
        sessions,
        MockPasswordHasher::new(),
    );
    assert_eq!(block_on(auth.logout("sid")), Ok(()));
}

#[test]
fn csrf_tokens_must_match_exactly_and_an_empty_expected_token_never_matches() {
    assert!(csrf_matches("abc", "abc"));
    assert!(!csrf_matches("abc", "abd"));
    assert!(!csrf_matches("abc", "ab"));
    assert!(!csrf_matches("abc", ""));
    assert!(!csrf_matches("", ""));
}
