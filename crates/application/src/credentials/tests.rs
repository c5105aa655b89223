use futures_executor::block_on;
use ports::{MockPasswordHasher, MockUserRepository, StorageError, UserCredentials};

use super::*;
use crate::test_support::{hasher_verifying, user};

fn password() -> PlainPassword {
    PlainPassword::for_login("password123").unwrap()
}

fn stored(hash: &str) -> PasswordHash {
    PasswordHash(hash.into())
}

/// Users whose `user1` (version 3) has the hash `"real"` and, read again, is `reread`.
fn users_where_user1_rereads_as(reread: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().returning(|_| {
        Ok(Some(UserCredentials {
            user: User {
                credentials_version: 3,
                ..user(1, 10)
            },
            password_hash: stored("real"),
        }))
    });
    users
        .expect_find_by_id()
        .times(1)
        .returning(move |_| Ok(reread.clone()));
    users
}

fn at_version(version: i64) -> Option<User> {
    Some(User {
        credentials_version: version,
        ..user(1, 10)
    })
}

#[test]
fn the_right_password_yields_the_account_read_again_after_the_check() {
    let users = users_where_user1_rereads_as(at_version(3));
    let found = block_on(user_with_password(
        &users,
        &hasher_verifying("real", true),
        "USER1",
        &password(),
    ));
    assert_eq!(found, Ok(at_version(3)));
}

#[test]
fn a_reset_or_deactivation_during_the_check_refuses_the_login() {
    for reread in [at_version(4), None] {
        let users = users_where_user1_rereads_as(reread.clone());
        let found = block_on(user_with_password(
            &users,
            &hasher_verifying("real", true),
            "user1",
            &password(),
        ));
        assert_eq!(found, Ok(None), "{reread:?}");
    }
}

#[test]
fn a_wrong_password_reads_nothing_again_and_rehashes_nothing() {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().returning(|_| {
        Ok(Some(UserCredentials {
            user: user(1, 10),
            password_hash: stored("real"),
        }))
    });
    users.expect_find_by_id().never();
    users.expect_upgrade_password_hash().never();
    let mut hasher = hasher_verifying("real", false);
    hasher.expect_hash().never();
    assert_eq!(
        block_on(user_with_password(&users, &hasher, "user1", &password())),
        Ok(None)
    );
}

#[test]
fn a_username_with_a_nul_is_never_looked_up_and_still_costs_one_verification() {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().never();
    let found = block_on(user_with_password(
        &users,
        &hasher_verifying("dummy", true),
        "vic\0tim",
        &password(),
    ));
    assert_eq!(found, Ok(None));
}

/// A hasher that verifies anything, reports every stored hash as made at another cost, and hashes
/// to `"rehashed"`.
fn rehashing_hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().returning(|_, _| Ok(true));
    hasher.expect_needs_rehash().returning(|_| true);
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(stored("rehashed")));
    hasher
}

#[test]
fn a_hash_of_another_cost_is_replaced_after_a_successful_check() {
    let mut users = users_where_user1_rereads_as(at_version(3));
    users
        .expect_upgrade_password_hash()
        .withf(|id, current, new| id.0 == 1 && current.0 == "real" && new.0 == "rehashed")
        .times(1)
        .returning(|_, _, _| Ok(true));
    let found = block_on(user_with_password(
        &users,
        &rehashing_hasher(),
        "user1",
        &password(),
    ));
    assert_eq!(found, Ok(at_version(3)));
}

#[test]
fn a_failed_rehash_does_not_fail_the_login() {
    let mut users = users_where_user1_rereads_as(at_version(3));
    users
        .expect_upgrade_password_hash()
        .returning(|_, _, _| Err(StorageError::Unavailable("down".into())));
    let found = block_on(user_with_password(
        &users,
        &rehashing_hasher(),
        "user1",
        &password(),
    ));
    assert_eq!(found, Ok(at_version(3)));
}
