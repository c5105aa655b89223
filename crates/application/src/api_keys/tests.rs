use std::sync::{Arc, Mutex};

use chrono::Duration;
use futures_executor::block_on;
use ports::{MockApiKeyRepository, MockSecretGenerator};

use super::*;
use crate::test_support::{fixed_clock, noon, user};

const SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

fn caller(credential: Credential) -> Caller {
    Caller {
        user: user(1, 4000),
        credential,
    }
}

fn logged_in() -> Caller {
    caller(Credential::AccessToken)
}

fn secrets() -> Arc<MockSecretGenerator> {
    let mut secrets = MockSecretGenerator::new();
    secrets.expect_secret().returning(|| SECRET.into());
    Arc::new(secrets)
}

fn stored(new: &NewApiKey) -> ApiKey {
    ApiKey {
        id: ApiKeyId(5),
        user_id: new.user_id,
        name: new.name.clone(),
        prefix: new.prefix.clone(),
        created_at: new.created_at,
        expires_at: new.expires_at,
        last_used_at: None,
    }
}

fn use_case(keys: MockApiKeyRepository) -> ApiKeys {
    ApiKeys::new(Arc::new(keys), secrets(), fixed_clock())
}

#[test]
fn a_new_key_is_shown_once_and_stored_only_as_its_hash_and_prefix() {
    let seen = Arc::new(Mutex::new(None));
    let mut keys = MockApiKeyRepository::new();
    let record = seen.clone();
    keys.expect_create_api_key()
        .withf(|_, limit| *limit == 20)
        .returning(move |new, _| {
            *record.lock().unwrap() = Some(new.clone());
            Ok(CreatedApiKey::Created(stored(&new)))
        });
    let issued = block_on(use_case(keys).create(&logged_in(), Some("  ci  "), Some(30))).unwrap();
    let secret = format!("cak_{SECRET}");
    assert_eq!(issued.secret, secret);
    let new = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        new.secret_hash,
        crate::digest::sha256_hex(secret.as_bytes())
    );
    assert!(!new.secret_hash.contains(SECRET));
    assert_eq!(new.prefix, "cak_abcdefgh");
    assert_eq!(new.name, "ci");
    assert_eq!(new.created_at, noon());
    assert_eq!(new.expires_at, Some(noon() + Duration::days(30)));
    assert_eq!(issued.key, stored(&new));
}

#[test]
fn without_a_name_or_lifetime_a_key_is_unnamed_and_never_expires() {
    let mut keys = MockApiKeyRepository::new();
    keys.expect_create_api_key()
        .withf(|new, _| new.name.is_empty() && new.expires_at.is_none())
        .returning(|new, _| Ok(CreatedApiKey::Created(stored(&new))));
    assert!(block_on(use_case(keys).create(&logged_in(), None, None)).is_ok());
}

#[test]
fn the_twenty_first_live_key_is_refused() {
    let mut keys = MockApiKeyRepository::new();
    keys.expect_create_api_key()
        .returning(|_, _| Ok(CreatedApiKey::LimitReached));
    assert_eq!(
        block_on(use_case(keys).create(&logged_in(), None, None)),
        Err(AppError::TooManyApiKeys { limit: 20 })
    );
}

#[test]
fn a_bad_name_and_lifetime_are_both_reported_and_nothing_is_stored() {
    let mut keys = MockApiKeyRepository::new();
    keys.expect_create_api_key().never();
    let long = "n".repeat(101);
    let Err(AppError::Validation(errors)) =
        block_on(use_case(keys).create(&logged_in(), Some(&long), Some(0)))
    else {
        panic!("expected a validation error");
    };
    let fields: Vec<_> = errors.fields().keys().cloned().collect();
    assert_eq!(fields, ["expires_in_days", "name"]);
}

#[test]
fn an_api_key_cannot_manage_keys() {
    let mut keys = MockApiKeyRepository::new();
    keys.expect_create_api_key().never();
    keys.expect_list_api_keys().never();
    keys.expect_revoke_api_key().never();
    let by_key = caller(Credential::ApiKey(ApiKeyId(5)));
    let api_keys = use_case(keys);
    assert_eq!(
        block_on(api_keys.create(&by_key, None, None)),
        Err(AppError::LoginRequired)
    );
    assert_eq!(
        block_on(api_keys.list(&by_key)),
        Err(AppError::LoginRequired)
    );
    assert_eq!(
        block_on(api_keys.revoke(&by_key, "5")),
        Err(AppError::LoginRequired)
    );
}

#[test]
fn revoking_a_key_that_is_not_the_callers_is_not_found() {
    let mut keys = MockApiKeyRepository::new();
    keys.expect_revoke_api_key()
        .withf(|user, id| user.0 == 1 && *id == ApiKeyId(5))
        .returning(|_, _| Ok(true));
    keys.expect_revoke_api_key().returning(|_, _| Ok(false));
    let api_keys = use_case(keys);
    assert_eq!(block_on(api_keys.revoke(&logged_in(), "5")), Ok(()));
    for unknown in ["6", "five", "", "99999999999999999999"] {
        assert_eq!(
            block_on(api_keys.revoke(&logged_in(), unknown)),
            Err(AppError::NotFound("Not found.")),
            "{unknown:?}"
        );
    }
}
