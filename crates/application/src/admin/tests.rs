//! Unit tests of the admin use cases against mocked ports.

use std::{net::IpAddr, sync::Arc, time::Duration};

use chrono::{NaiveDate, TimeZone, Utc};
use domain::{LedgerEntryKind, Tokens, UserId};
use futures_executor::block_on;
use ports::{
    Adjusted, AdminSession, BucketUsage, ChatRecord, MockAdminRepository,
    MockAdminSessionRepository, MockPasswordHasher, MockSecretGenerator, MockThrottleRepository,
    MockUserRepository, Page, PasswordHash, UserCredentials, Window,
};

use super::*;
use crate::{
    AppError,
    test_support::{fixed_clock, hasher_verifying, noon, user},
    throttle::{ClientAddress, LoginLimits, LoginThrottle},
};

fn superuser(id: i64) -> domain::User {
    let mut admin = user(id, 0);
    admin.is_superuser = true;
    admin
}

fn empty_page<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        total: 0,
    }
}

// ---- pagination ----

#[test]
fn pages_below_one_are_not_found_and_page_windows_are_25_rows() {
    assert_eq!(window(0), Err(AdminError::NotFound));
    assert_eq!(window(-3), Err(AdminError::NotFound));
    assert_eq!(window(i64::MAX), Err(AdminError::NotFound));
    assert_eq!(
        window(3),
        Ok(Window {
            offset: 50,
            limit: 25
        })
    );
}

#[test]
fn page_one_of_an_empty_list_exists_but_pages_past_the_last_do_not() {
    let page = paged(1, empty_page::<i64>()).unwrap();
    assert_eq!((page.page, page.pages, page.total), (1, 1, 0));
    let rows = |total| Page {
        items: vec![1],
        total,
    };
    assert_eq!(paged(2, rows(26)).map(|p| p.pages), Ok(2));
    assert_eq!(paged(2, rows(25)), Err(AdminError::NotFound));
    assert_eq!(paged(3, rows(50)), Err(AdminError::NotFound));
}

// ---- login and sessions ----

fn secrets() -> MockSecretGenerator {
    let mut secrets = MockSecretGenerator::new();
    let mut n = 0;
    secrets.expect_secret().returning(move || {
        n += 1;
        format!("secret-{n}")
    });
    secrets
}

fn users_with(found: Option<domain::User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().returning(move |_| {
        Ok(found.clone().map(|user| UserCredentials {
            user,
            password_hash: PasswordHash("real".into()),
        }))
    });
    users
}

/// A throttle whose counters are all empty and that accepts every record and reset.
fn open_throttle() -> MockThrottleRepository {
    let mut events = MockThrottleRepository::new();
    events
        .expect_usage()
        .returning(|buckets, _| Ok(vec![BucketUsage::default(); buckets.len()]));
    events.expect_record().returning(|_, _| Ok(()));
    events.expect_clear().returning(|_| Ok(()));
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
            s.id_hash == session::hash_session_id("secret-1")
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
    events.expect_usage().returning(|buckets, _| {
        let full = BucketUsage {
            count: 5,
            oldest: Some(noon()),
        };
        Ok(vec![full; buckets.len()])
    });
    events.expect_record().never();
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
    events
        .expect_usage()
        .returning(|buckets, _| Ok(vec![BucketUsage::default(); buckets.len()]));
    events
        .expect_record()
        .withf(|buckets, _| buckets.len() == 3)
        .times(1)
        .returning(|_, _| Ok(()));
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
        .withf(|hash, now| hash == session::hash_session_id("sid") && *now == noon())
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

fn users_by_id(found: Option<domain::User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(move |_| Ok(found.clone()));
    users
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
        .withf(|hash| hash == session::hash_session_id("sid"))
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

// ---- users ----

fn admin_users(admin: MockAdminRepository, users: MockUserRepository) -> AdminUsers {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash("new-hash".into())));
    AdminUsers::new(
        Arc::new(admin),
        Arc::new(users),
        Arc::new(hasher),
        fixed_clock(),
    )
}

#[test]
fn the_user_search_uses_the_normalised_username_key() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_list_users()
        .withf(|search, window| search.as_deref() == Some("john") && window.offset == 0)
        .times(1)
        .returning(|_, _| Ok(empty_page()));
    admin
        .expect_list_users()
        .withf(|search, _| search.is_none())
        .times(2)
        .returning(|_, _| Ok(empty_page()));
    let users = admin_users(admin, MockUserRepository::new());
    assert!(block_on(users.list(Some(" ＪＯＨＮ "), 1)).is_ok());
    assert!(block_on(users.list(Some("   "), 1)).is_ok());
    assert!(
        block_on(users.list(Some("\0"), 1)).is_ok(),
        "NULs never reach storage"
    );
}

#[test]
fn a_credit_is_recorded_with_the_actor_and_reason() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_adjust_tokens()
        .withf(|a| {
            a.user_id == UserId(2)
                && a.actor_id == UserId(1)
                && a.amount == Tokens::new(500)
                && a.reason == "goodwill"
                && a.at == noon()
        })
        .times(1)
        .returning(|_| Ok(Adjusted::Applied(Tokens::new(4500))));
    let users = admin_users(admin, MockUserRepository::new());
    let result = block_on(users.adjust(
        &superuser(1),
        UserId(2),
        Direction::Credit,
        " 500 ",
        " goodwill ",
    ));
    assert_eq!(result, Ok(Tokens::new(4500)));
}

#[test]
fn a_debit_is_negative_and_an_uncovered_debit_is_a_form_error() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_adjust_tokens()
        .withf(|a| a.amount == Tokens::new(-600))
        .returning(|_| {
            Ok(Adjusted::InsufficientTokens {
                available: Tokens::new(500),
            })
        });
    let users = admin_users(admin, MockUserRepository::new());
    let result = block_on(users.adjust(&superuser(1), UserId(2), Direction::Debit, "600", "abuse"));
    let Err(AdminError::Validation(errors)) = result else {
        panic!("expected a form error, got {result:?}")
    };
    assert_eq!(
        errors.fields()["amount"],
        vec!["Insufficient tokens: 600 needed, 500 left".to_owned()]
    );
}

#[test]
fn bad_amounts_and_blank_reasons_change_nothing() {
    for (amount, reason, fields) in [
        ("0", "r", vec!["amount"]),
        ("-5", "r", vec!["amount"]),
        ("1.5", "r", vec!["amount"]),
        ("abc", "r", vec!["amount"]),
        ("1000000001", "r", vec!["amount"]),
        ("10", "  ", vec!["reason"]),
        ("10", "nul\0byte", vec!["reason"]),
        ("", "", vec!["amount", "reason"]),
    ] {
        let mut admin = MockAdminRepository::new();
        admin.expect_adjust_tokens().never();
        let users = admin_users(admin, MockUserRepository::new());
        let result =
            block_on(users.adjust(&superuser(1), UserId(2), Direction::Credit, amount, reason));
        let Err(AdminError::Validation(errors)) = result else {
            panic!("{amount:?}/{reason:?}: expected a form error, got {result:?}")
        };
        let got: Vec<&str> = errors.fields().keys().map(String::as_str).collect();
        assert_eq!(got, fields, "{amount:?}/{reason:?}");
    }
    let mut admin = MockAdminRepository::new();
    admin.expect_adjust_tokens().never();
    let users = admin_users(admin, MockUserRepository::new());
    let long = "x".repeat(501);
    assert!(matches!(
        block_on(users.adjust(&superuser(1), UserId(2), Direction::Credit, "1", &long)),
        Err(AdminError::Validation(_))
    ));
}

#[test]
fn adjusting_a_missing_user_is_not_found() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_adjust_tokens()
        .returning(|_| Ok(Adjusted::UserNotFound));
    let users = admin_users(admin, MockUserRepository::new());
    assert_eq!(
        block_on(users.adjust(&superuser(1), UserId(9), Direction::Credit, "1", "r")),
        Err(AdminError::NotFound)
    );
}

#[test]
fn an_admin_cannot_deactivate_themselves_but_can_deactivate_others() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_set_active()
        .withf(|id, active| *id == UserId(2) && !*active)
        .times(1)
        .returning(|_, _| Ok(true));
    let users = admin_users(admin, MockUserRepository::new());
    assert!(matches!(
        block_on(users.set_active(&superuser(1), UserId(1), false)),
        Err(AdminError::Validation(_))
    ));
    assert_eq!(
        block_on(users.set_active(&superuser(1), UserId(2), false)),
        Ok(())
    );
}

#[test]
fn a_password_reset_stores_the_new_hash_and_revokes_refresh_tokens_up_to_now() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_set_password()
        .withf(|id, hash, cutoff| *id == UserId(2) && hash.0 == "new-hash" && *cutoff == noon())
        .times(1)
        .returning(|_, _, _| Ok(true));
    let users = admin_users(admin, users_by_id(Some(user(2, 0))));
    assert_eq!(
        block_on(users.reset_password(&superuser(1), UserId(2), "a-new-password")),
        Ok(())
    );
}

#[test]
fn a_weak_reset_password_is_refused_before_hashing() {
    let mut admin = MockAdminRepository::new();
    admin.expect_set_password().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    let users = AdminUsers::new(
        Arc::new(admin),
        Arc::new(users_by_id(Some(user(2, 0)))),
        Arc::new(hasher),
        fixed_clock(),
    );
    for weak in ["short", "12345678", "user2"] {
        assert!(matches!(
            block_on(users.reset_password(&superuser(1), UserId(2), weak)),
            Err(AdminError::Validation(_))
        ));
    }
}

#[test]
fn the_user_page_shows_ledger_and_chats_or_is_not_found() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_user_ledger()
        .withf(|id, limit| *id == UserId(2) && *limit == users::LEDGER_LINES)
        .returning(|_, _| {
            Ok(vec![ports::LedgerLine {
                id: 1,
                amount: Tokens::new(4000),
                kind: LedgerEntryKind::SignupGrant,
                reason: "sign-up grant".into(),
                actor: None,
                created_at: noon(),
            }])
        });
    admin
        .expect_list_chats()
        .withf(|filter, window| filter.user == Some(UserId(2)) && window.limit == PAGE_SIZE)
        .returning(|_, _| Ok(empty_page()));
    let users = admin_users(admin, users_by_id(Some(user(2, 4000))));
    let detail = block_on(users.detail(UserId(2))).unwrap();
    assert_eq!(detail.ledger.len(), 1);
    let users = admin_users(MockAdminRepository::new(), users_by_id(None));
    assert_eq!(block_on(users.detail(UserId(2))), Err(AdminError::NotFound));
}

// ---- chats and dashboard ----

#[test]
fn the_chat_date_range_covers_whole_utc_days_with_to_included() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_list_chats()
        .withf(|filter, window| {
            filter.user == Some(UserId(4))
                && filter.from == Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single()
                && filter.before == Utc.with_ymd_and_hms(2025, 1, 3, 0, 0, 0).single()
                && window.offset == 25
        })
        .times(1)
        .returning(|_, _| {
            Ok(Page {
                items: Vec::new(),
                total: 30,
            })
        });
    let chats = AdminChats::new(Arc::new(admin));
    let query = ChatQuery {
        user: Some(UserId(4)),
        from: NaiveDate::from_ymd_opt(2025, 1, 1),
        to: NaiveDate::from_ymd_opt(2025, 1, 2),
    };
    let page = block_on(chats.list(&query, 2)).unwrap();
    assert_eq!((page.page, page.pages), (2, 2));
}

#[test]
fn a_missing_chat_is_not_found() {
    let mut admin = MockAdminRepository::new();
    admin.expect_find_chat().returning(|id| {
        Ok((id == 1).then(|| ports::ChatLine {
            chat: ChatRecord {
                id: 1,
                user_id: UserId(1),
                message: "m".into(),
                response: "r".into(),
                timestamp: noon(),
            },
            username: "user1".into(),
        }))
    });
    let chats = AdminChats::new(Arc::new(admin));
    assert!(block_on(chats.detail(1)).is_ok());
    assert_eq!(block_on(chats.detail(2)), Err(AdminError::NotFound));
}

#[test]
fn the_dashboard_counts_today_from_midnight_utc() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_dashboard_totals()
        .withf(|start| Some(*start) == Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single())
        .returning(|_| Ok(ports::DashboardTotals::default()));
    let dashboard = Dashboard::new(Arc::new(admin), fixed_clock());
    assert!(block_on(dashboard.totals()).is_ok());
}
