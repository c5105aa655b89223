//! The user repository's contract: creation with the sign-up grant, unique names, lookups.

use std::sync::Arc;

use domain::{Tokens, UserId, UsernameKey};
use futures_util::future::join_all;
use ports::{CreatedUser, PasswordHash, Storage};

use super::{assert_ledger_consistent, create_user, new_user, noon};

/// A new user is active, not an admin, and holds its sign-up grant, recorded as one ledger entry.
pub async fn a_created_user_has_its_grant_as_balance_and_ledger(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "John_Doe", 4000).await;
    assert_eq!(user.tokens, Tokens::new(4000));
    assert!(user.is_active && !user.is_superuser);
    assert_eq!(user.date_joined, noon());
    let found = storage.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(found, user);
    let totals = storage.ledger_totals().await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].entries_sum, Tokens::new(4000));
}

/// A username taken in any case or Unicode compatibility form is refused and leaves no trace.
pub async fn usernames_are_unique_case_insensitively(storage: Arc<dyn Storage>) {
    create_user(&*storage, "John_Doe", 4000).await;
    for other in ["john_doe", "JOHN_DOE", "ＪＯＨＮ_ＤＯＥ"] {
        assert_eq!(
            storage.create(new_user(other, 4000)).await.unwrap(),
            CreatedUser::UsernameTaken
        );
    }
    assert_eq!(
        storage.ledger_totals().await.unwrap().len(),
        1,
        "a refused user leaves no trace"
    );
}

/// A name that looks like a taken one (an equal TR39 skeleton) is refused like a taken name.
pub async fn look_alike_usernames_are_refused(storage: Arc<dyn Storage>) {
    create_user(&*storage, "admin", 4000).await;
    create_user(&*storage, "paypal", 4000).await;
    for look_alike in ["\u{430}dmin", "\u{410}DMIN", "paypa1", "PAYPA1"] {
        assert_eq!(
            storage.create(new_user(look_alike, 4000)).await.unwrap(),
            CreatedUser::UsernameTaken,
            "{look_alike}"
        );
    }
    create_user(&*storage, "admins", 4000).await;
    assert_eq!(storage.ledger_totals().await.unwrap().len(), 3);
}

/// Concurrent registrations of one name (in different cases and look-alike spellings) create
/// exactly one user.
pub async fn racing_registrations_of_one_name_create_one_user(storage: Arc<dyn Storage>) {
    let spellings = ["race", "RACE", "r\u{430}ce", "r\u{410}CE"];
    let attempts = (0..16).map(|i| {
        let storage = storage.clone();
        tokio::spawn(async move { storage.create(new_user(spellings[i % 4], 4000)).await })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let created = results
        .iter()
        .filter(|r| matches!(r, CreatedUser::Created(_)))
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert_ledger_consistent(&*storage).await;
}

/// Credentials are found by the username key; unknown names and ids are `None`, not errors.
pub async fn credentials_are_found_by_key_and_missing_users_are_none(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "Zoë", 0).await;
    let found = storage
        .find_credentials(&UsernameKey::of("ZOË"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, user.id);
    assert_eq!(found.password_hash.0, "$2b$04$hash");
    assert!(
        storage
            .find_credentials(&UsernameKey::of("nobody"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(storage.find_by_id(UserId(9999)).await.unwrap().is_none());
}

/// A cost upgrade replaces the hash only while it is still the one that was verified, and leaves
/// the credentials version alone.
pub async fn a_password_hash_is_upgraded_only_while_it_is_unchanged(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "upgraded", 0).await;
    let hash = |text: &str| PasswordHash(text.to_owned());
    assert!(
        storage
            .upgrade_password_hash(user.id, hash("$2b$04$hash"), hash("$2b$05$new"))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .upgrade_password_hash(user.id, hash("$2b$04$hash"), hash("$2b$06$stale"))
            .await
            .unwrap(),
        "the hash changed since it was read"
    );
    let stored = storage
        .find_credentials(&user.username.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash, hash("$2b$05$new"));
    assert_eq!(stored.user.credentials_version, 0);
    assert!(
        !storage
            .upgrade_password_hash(UserId(9999), hash("x"), hash("y"))
            .await
            .unwrap()
    );
}
