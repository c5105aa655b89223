//! The revocation and throttle repositories' contracts: refresh token families, rotation,
//! reuse detection, throttle buckets and pruning.

use std::sync::Arc;

use domain::UserId;
use futures_util::future::join_all;
use ports::{BucketUsage, RefreshTokenRecord, Rotation, Storage};
use uuid::Uuid;

use super::{later, noon};

/// A token of a fresh family, expiring a day after noon.
fn token() -> RefreshTokenRecord {
    let jti = Uuid::new_v4();
    RefreshTokenRecord {
        jti,
        family: jti,
        user_id: UserId(1),
        jti_expires_at: later(86_400),
        family_expires_at: later(86_400),
    }
}

/// The next token of `previous`'s family.
fn successor(previous: &RefreshTokenRecord) -> RefreshTokenRecord {
    RefreshTokenRecord {
        jti: Uuid::new_v4(),
        ..previous.clone()
    }
}

fn buckets(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Revoking a refresh token (idempotently) revokes its whole family and nothing else.
pub async fn logout_revokes_the_token_and_its_family(storage: Arc<dyn Storage>) {
    let first = token();
    let second = successor(&first);
    let stranger = token();
    assert!(!storage.is_revoked(first.jti, first.family).await.unwrap());
    storage.revoke(first.clone(), noon()).await.unwrap();
    storage.revoke(first.clone(), later(1)).await.unwrap(); // idempotent
    assert!(storage.is_revoked(first.jti, first.family).await.unwrap());
    assert!(
        storage.is_revoked(second.jti, second.family).await.unwrap(),
        "same family"
    );
    assert!(
        !storage
            .is_revoked(stranger.jti, stranger.family)
            .await
            .unwrap()
    );
    assert_eq!(
        storage.rotate_out(second, later(2)).await.unwrap(),
        Rotation::Revoked
    );
}

/// Rotating a token out twice is reuse: the whole family, successor included, is revoked.
pub async fn rotating_out_twice_detects_reuse_and_revokes_the_family(storage: Arc<dyn Storage>) {
    let first = token();
    let second = successor(&first);
    assert_eq!(
        storage.rotate_out(first.clone(), noon()).await.unwrap(),
        Rotation::Rotated
    );
    assert!(storage.is_revoked(first.jti, first.family).await.unwrap());
    assert!(
        !storage.is_revoked(second.jti, second.family).await.unwrap(),
        "the successor lives"
    );
    assert_eq!(
        storage.rotate_out(first.clone(), later(5)).await.unwrap(),
        Rotation::ReuseDetected
    );
    assert!(
        storage.is_revoked(second.jti, second.family).await.unwrap(),
        "the family is revoked"
    );
    assert_eq!(
        storage.rotate_out(second, later(6)).await.unwrap(),
        Rotation::Revoked
    );
    assert_eq!(
        storage.rotate_out(first, later(7)).await.unwrap(),
        Rotation::Revoked
    );
}

/// Of concurrent rotations of one token exactly one succeeds; the rest are reuse.
pub async fn concurrent_rotations_of_one_token_let_exactly_one_through(storage: Arc<dyn Storage>) {
    let shared = token();
    let attempts = (0..8).map(|_| {
        let storage = storage.clone();
        let shared = shared.clone();
        tokio::spawn(async move { storage.rotate_out(shared, noon()).await })
    });
    let outcomes: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Rotation::Rotated).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Rotation::Rotated | Rotation::ReuseDetected | Rotation::Revoked
    )));
    assert!(
        storage
            .is_revoked(Uuid::new_v4(), shared.family)
            .await
            .unwrap(),
        "reuse revoked the family"
    );
}

/// Pruning removes token and family revocations only after each has expired.
pub async fn expired_revocations_are_pruned_and_live_ones_kept(storage: Arc<dyn Storage>) {
    let short = RefreshTokenRecord {
        jti_expires_at: later(60),
        family_expires_at: later(120),
        ..token()
    };
    let long = token();
    storage.revoke(short.clone(), noon()).await.unwrap();
    storage.revoke(long.clone(), noon()).await.unwrap();
    assert_eq!(storage.prune_revocations(later(30)).await.unwrap(), 0);
    assert_eq!(
        storage.prune_revocations(later(90)).await.unwrap(),
        1,
        "the token row only"
    );
    assert!(
        storage.is_revoked(short.jti, short.family).await.unwrap(),
        "the family row still holds"
    );
    assert_eq!(storage.prune_revocations(later(121)).await.unwrap(), 1);
    assert!(!storage.is_revoked(short.jti, short.family).await.unwrap());
    assert!(storage.is_revoked(long.jti, long.family).await.unwrap());
}

/// Throttle usage counts a bucket's events strictly after the window start, with the oldest one.
pub async fn throttle_usage_counts_events_strictly_after_the_window_start(
    storage: Arc<dyn Storage>,
) {
    storage.record(buckets(&["a", "b"]), noon()).await.unwrap();
    storage.record(buckets(&["a"]), later(10)).await.unwrap();
    storage.record(buckets(&["a"]), later(20)).await.unwrap();
    let usage = storage
        .usage(buckets(&["a", "b", "unknown"]), later(-1))
        .await
        .unwrap();
    assert_eq!(
        usage,
        vec![
            BucketUsage {
                count: 3,
                oldest: Some(noon())
            },
            BucketUsage {
                count: 1,
                oldest: Some(noon())
            },
            BucketUsage {
                count: 0,
                oldest: None
            },
        ]
    );
    let recent = storage.usage(buckets(&["a", "b"]), noon()).await.unwrap();
    assert_eq!(
        recent,
        vec![
            BucketUsage {
                count: 2,
                oldest: Some(later(10))
            },
            BucketUsage::default()
        ]
    );
}

/// Clearing a throttle bucket forgets its events and no other bucket's.
pub async fn clearing_a_bucket_forgets_only_that_bucket(storage: Arc<dyn Storage>) {
    storage
        .record(buckets(&["pair", "user", "ip"]), noon())
        .await
        .unwrap();
    storage.clear("pair".to_owned()).await.unwrap();
    let usage = storage
        .usage(buckets(&["pair", "user", "ip"]), later(-1))
        .await
        .unwrap();
    assert_eq!(
        usage.iter().map(|u| u.count).collect::<Vec<_>>(),
        vec![0, 1, 1]
    );
}

/// Pruning removes throttle events older than the cutoff.
pub async fn throttle_events_older_than_the_cutoff_are_pruned(storage: Arc<dyn Storage>) {
    storage.record(buckets(&["a", "b"]), noon()).await.unwrap();
    storage.record(buckets(&["a"]), later(100)).await.unwrap();
    assert_eq!(storage.prune_events(later(50)).await.unwrap(), 2);
    let usage = storage
        .usage(buckets(&["a", "b"]), later(-1))
        .await
        .unwrap();
    assert_eq!(
        usage.iter().map(|u| u.count).collect::<Vec<_>>(),
        vec![1, 0]
    );
}
