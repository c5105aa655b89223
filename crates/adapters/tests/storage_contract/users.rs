use domain::{Tokens, UserId, UsernameKey};
use futures_util::future::join_all;
use ports::{CreatedUser, UserRepository};

use super::*;

test_support::backend_tests! {
    async fn a_created_user_has_its_grant_as_balance_and_ledger(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "John_Doe", 4000).await;
        assert_eq!(user.tokens, Tokens::new(4000));
        assert!(user.is_active && !user.is_superuser);
        assert_eq!(user.date_joined, noon());
        let found = store.storage.find_by_id(user.id).await.unwrap().unwrap();
        assert_eq!(found, user);
        let totals = store.storage.ledger_totals().await.unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].entries_sum, Tokens::new(4000));
    }

    async fn usernames_are_unique_case_insensitively(backend: Backend) {
        let store = store(backend);
        create_user(&store.storage, "John_Doe", 4000).await;
        for other in ["john_doe", "JOHN_DOE", "ＪＯＨＮ_ＤＯＥ"] {
            assert_eq!(store.storage.create(new_user(other, 4000)).await.unwrap(), CreatedUser::UsernameTaken);
        }
        assert_eq!(store.storage.ledger_totals().await.unwrap().len(), 1, "a refused user leaves no trace");
    }

    async fn racing_registrations_of_one_name_create_one_user(backend: Backend) {
        let store = store(backend);
        let attempts = (0..16).map(|i| {
            let storage = store.storage.clone();
            tokio::spawn(async move { storage.create(new_user(if i % 2 == 0 { "race" } else { "RACE" }, 4000)).await })
        });
        let results: Vec<_> = join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
        let created = results.iter().filter(|r| matches!(r, CreatedUser::Created(_))).count();
        assert_eq!(created, 1, "{results:?}");
        assert_ledger_consistent(&store.storage).await;
    }

    async fn credentials_are_found_by_key_and_missing_users_are_none(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "Zoë", 0).await;
        let found = store.storage.find_credentials(&UsernameKey::of("ZOË")).await.unwrap().unwrap();
        assert_eq!(found.user.id, user.id);
        assert_eq!(found.password_hash.0, "$2b$04$hash");
        assert!(store.storage.find_credentials(&UsernameKey::of("nobody")).await.unwrap().is_none());
        assert!(store.storage.find_by_id(UserId(9999)).await.unwrap().is_none());
    }
}
