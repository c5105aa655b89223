//! The admin's user list, user page and account actions against mocked ports.

use std::sync::Arc;

use domain::{LedgerEntryKind, Tokens, UserId};
use futures_executor::block_on;
use ports::{
    Adjusted, ApiKeyId, MockAdminRepository, MockApiKeyRepository, MockPasswordHasher,
    MockThrottleRepository, MockUserRepository, PasswordHash,
};

use super::*;
use crate::{
    LoginLimits, LoginThrottle,
    test_support::{empty_page, fixed_clock, no_login_limits, noon, superuser, user, users_by_id},
};

fn admin_users(admin: MockAdminRepository, users: MockUserRepository) -> AdminUsers {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash("new-hash".into())));
    let mut keys = MockApiKeyRepository::new();
    keys.expect_list_api_keys().returning(|_| Ok(Vec::new()));
    keys.expect_revoke_api_key()
        .returning(|user, key| Ok(user == UserId(2) && key == ApiKeyId(5)));
    AdminUsers::new(
        Arc::new(admin),
        Arc::new(users),
        Arc::new(keys),
        Arc::new(hasher),
        fixed_clock(),
        no_login_limits(),
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
fn a_password_reset_stores_the_new_hash() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_set_password()
        .withf(|id, hash| *id == UserId(2) && hash.0 == "new-hash")
        .times(1)
        .returning(|_, _| Ok(true));
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
        Arc::new(MockApiKeyRepository::new()),
        Arc::new(hasher),
        fixed_clock(),
        no_login_limits(),
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
        .withf(|id, limit| *id == UserId(2) && *limit == LEDGER_LINES)
        .returning(|_, _| {
            Ok(vec![ports::LedgerLine {
                id: 1,
                amount: Tokens::new(4000),
                kind: LedgerEntryKind::SignupGrant,
                reason: "sign-up grant".into(),
                actor: None,
                usage: None,
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

#[test]
fn lifting_a_login_lock_forgets_the_failures_counted_against_that_username() {
    let mut events = MockThrottleRepository::new();
    let expected_subject = std::sync::Mutex::new(None::<String>);
    events
        .expect_clear_subject()
        .times(2)
        .returning(move |subject| {
            let mut first = expected_subject.lock().unwrap();
            assert_eq!(
                first.get_or_insert_with(|| subject.clone()),
                &subject,
                "the same subject for the same username"
            );
            assert!(!subject.contains("user2"), "a hash, not the name");
            Ok(7)
        });
    let throttle = Arc::new(LoginThrottle::new(
        Arc::new(events),
        fixed_clock(),
        LoginLimits::DEFAULT,
    ));
    let users = AdminUsers::new(
        Arc::new(MockAdminRepository::new()),
        Arc::new(users_by_id(Some(user(2, 0)))),
        Arc::new(MockApiKeyRepository::new()),
        Arc::new(MockPasswordHasher::new()),
        fixed_clock(),
        throttle.clone(),
    );
    assert_eq!(
        block_on(users.lift_login_lock(&superuser(1), UserId(2))),
        Ok(7)
    );
    assert_eq!(block_on(throttle.lift("USER2")), Ok(7), "by username key");
    let users = AdminUsers::new(
        Arc::new(MockAdminRepository::new()),
        Arc::new(users_by_id(None)),
        Arc::new(MockApiKeyRepository::new()),
        Arc::new(MockPasswordHasher::new()),
        fixed_clock(),
        no_login_limits(),
    );
    assert_eq!(
        block_on(users.lift_login_lock(&superuser(1), UserId(2))),
        Err(AdminError::NotFound)
    );
}

#[test]
fn an_admin_revokes_only_keys_of_the_user_on_the_page() {
    let users = admin_users(MockAdminRepository::new(), MockUserRepository::new());
    let admin = superuser(1);
    assert_eq!(
        block_on(users.revoke_api_key(&admin, UserId(2), ApiKeyId(5))),
        Ok(())
    );
    assert_eq!(
        block_on(users.revoke_api_key(&admin, UserId(3), ApiKeyId(5))),
        Err(AdminError::NotFound)
    );
}
