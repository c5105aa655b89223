//! The API key repository's contract: keys found by their hash in one lookup with their account,
//! listed and revoked only by their owner, a live-key limit that holds under races, and a
//! last-use time written at most once per interval.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::UserId;
use futures_util::future::join_all;
use ports::{ApiKey, ApiKeyId, CreatedApiKey, NewApiKey, Storage};

use super::{create_user, later, noon};

fn new_key(user: UserId, name: &str, hash: &str, expires_at: Option<DateTime<Utc>>) -> NewApiKey {
    NewApiKey {
        user_id: user,
        name: name.into(),
        prefix: format!("cak_{}", &hash[..8]),
        secret_hash: hash.into(),
        created_at: noon(),
        expires_at,
    }
}

/// A 64-character hash unique to `n`.
fn hash(n: usize) -> String {
    format!("{n:064x}")
}

async fn create(storage: &dyn Storage, key: NewApiKey) -> ApiKey {
    match storage.create_api_key(key, 20).await.unwrap() {
        CreatedApiKey::Created(key) => key,
        CreatedApiKey::LimitReached => panic!("limit reached"),
    }
}

/// A stored key is found by its hash with its account as it is now; another hash finds nothing.
pub async fn a_key_is_found_by_its_hash_with_its_account(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "keyholder", 4000).await;
    let created = create(&*storage, new_key(user.id, "ci", &hash(1), Some(later(60)))).await;
    assert_eq!(created.user_id, user.id);
    assert_eq!(created.name, "ci");
    assert_eq!(created.prefix, format!("cak_{}", &hash(1)[..8]));
    assert_eq!(created.created_at, noon());
    assert_eq!(created.expires_at, Some(later(60)));
    assert_eq!(created.last_used_at, None);
    let found = storage.find_api_key(&hash(1)).await.unwrap().unwrap();
    assert_eq!(found.key, created);
    assert_eq!(found.user, user);
    assert_eq!(storage.find_api_key(&hash(2)).await.unwrap(), None);
}

/// A user's keys are listed newest first, expired ones included, and nobody else's.
pub async fn keys_are_listed_newest_first_and_only_their_owners(storage: Arc<dyn Storage>) {
    let alice = create_user(&*storage, "alice", 0).await;
    let bob = create_user(&*storage, "bob", 0).await;
    let first = create(&*storage, new_key(alice.id, "one", &hash(1), None)).await;
    let expired = create(
        &*storage,
        new_key(alice.id, "two", &hash(2), Some(later(-1))),
    )
    .await;
    let bobs = create(&*storage, new_key(bob.id, "bob's", &hash(3), None)).await;
    assert_eq!(
        storage.list_api_keys(alice.id).await.unwrap(),
        vec![expired, first]
    );
    assert_eq!(storage.list_api_keys(bob.id).await.unwrap(), vec![bobs]);
}

/// Revoking deletes the key at once; another user's key or an unknown id is left alone.
pub async fn a_key_is_revoked_only_by_its_owner(storage: Arc<dyn Storage>) {
    let alice = create_user(&*storage, "alice", 0).await;
    let mallory = create_user(&*storage, "mallory", 0).await;
    let key = create(&*storage, new_key(alice.id, "", &hash(1), None)).await;
    assert!(!storage.revoke_api_key(mallory.id, key.id).await.unwrap());
    assert!(storage.find_api_key(&hash(1)).await.unwrap().is_some());
    assert!(
        !storage
            .revoke_api_key(alice.id, ApiKeyId(key.id.0 + 1000))
            .await
            .unwrap()
    );
    assert!(storage.revoke_api_key(alice.id, key.id).await.unwrap());
    assert_eq!(storage.find_api_key(&hash(1)).await.unwrap(), None);
    assert!(storage.list_api_keys(alice.id).await.unwrap().is_empty());
    assert!(!storage.revoke_api_key(alice.id, key.id).await.unwrap());
}

/// The limit counts live keys only: expired keys do not use it up, revoked keys free their slot,
/// and a key expiring exactly at creation time is not live. Other users' keys do not count.
pub async fn the_live_key_limit_counts_only_unexpired_keys(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "limited", 0).await;
    let other = create_user(&*storage, "other", 0).await;
    create(&*storage, new_key(other.id, "", &hash(100), None)).await;
    create(&*storage, new_key(user.id, "", &hash(1), Some(later(-60)))).await;
    create(&*storage, new_key(user.id, "", &hash(2), Some(noon()))).await;
    let live = create(&*storage, new_key(user.id, "", &hash(3), Some(later(60)))).await;
    create(&*storage, new_key(user.id, "", &hash(4), None)).await;
    let refused = storage
        .create_api_key(new_key(user.id, "", &hash(5), None), 2)
        .await
        .unwrap();
    assert_eq!(refused, CreatedApiKey::LimitReached);
    assert_eq!(storage.find_api_key(&hash(5)).await.unwrap(), None);
    assert!(storage.revoke_api_key(user.id, live.id).await.unwrap());
    let accepted = storage
        .create_api_key(new_key(user.id, "", &hash(5), None), 2)
        .await
        .unwrap();
    assert!(
        matches!(accepted, CreatedApiKey::Created(_)),
        "{accepted:?}"
    );
}

/// Concurrent creations never take an account past its limit.
pub async fn concurrent_creations_never_exceed_the_live_limit(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "racer", 0).await;
    let attempts = (0..30).map(|n| {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage
                .create_api_key(new_key(user.id, "", &hash(n), None), 20)
                .await
        })
    });
    let results: Vec<CreatedApiKey> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let created = results
        .iter()
        .filter(|r| matches!(r, CreatedApiKey::Created(_)))
        .count();
    assert_eq!(created, 20);
    assert_eq!(storage.list_api_keys(user.id).await.unwrap().len(), 20);
}

/// The last use is written when missing or older than the staleness cutoff, and left alone
/// otherwise.
pub async fn last_use_is_written_only_when_stale(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "toucher", 0).await;
    let key = create(&*storage, new_key(user.id, "", &hash(1), None)).await;
    let last_used = || async {
        storage
            .find_api_key(&hash(1))
            .await
            .unwrap()
            .unwrap()
            .key
            .last_used_at
    };
    let minute = Duration::seconds(60);
    assert!(
        storage
            .touch_api_key(key.id, later(10), later(10) - minute)
            .await
            .unwrap()
    );
    assert_eq!(last_used().await, Some(later(10)));
    assert!(
        !storage
            .touch_api_key(key.id, later(69), later(69) - minute)
            .await
            .unwrap()
    );
    assert_eq!(last_used().await, Some(later(10)));
    assert!(
        storage
            .touch_api_key(key.id, later(71), later(71) - minute)
            .await
            .unwrap()
    );
    assert_eq!(last_used().await, Some(later(71)));
    assert!(
        !storage
            .touch_api_key(ApiKeyId(key.id.0 + 1000), later(200), later(200))
            .await
            .unwrap()
    );
}
