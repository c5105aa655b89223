//! The revocation and throttle repositories' contracts: refresh token families, rotation,
//! reuse detection, atomic throttle admission, login sources and pruning.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::UserId;
use futures_util::future::join_all;
use ports::{
    Admission, Attempt, AttemptTicket, BucketLimit, BucketUsage, RefreshTokenRecord, Rotation,
    Storage,
};
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

/// An attempt on `names`, each allowing `limit` events, in the window after `since`, at `at`.
fn attempt(
    names: &[&str],
    limit: u64,
    subject: Option<&str>,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Attempt {
    Attempt {
        buckets: names
            .iter()
            .map(|name| BucketLimit {
                bucket: (*name).to_owned(),
                limit,
            })
            .collect(),
        subject: subject.map(str::to_owned),
        since,
        at,
    }
}

/// Admits `names` (limit 100, no subject) at `at`, window from far back; panics if refused.
async fn count_in(storage: &dyn Storage, names: &[&str], at: DateTime<Utc>) -> AttemptTicket {
    match storage
        .admit(attempt(names, 100, None, later(-86_400), at))
        .await
        .unwrap()
    {
        Admission::Admitted(ticket) => ticket,
        Admission::Refused(usage) => panic!("refused: {usage:?}"),
    }
}

/// The usage of `names` since `since`, as a refused attempt reports it (limit 1, so any event
/// refuses; an empty window admits, and the probe is withdrawn again).
async fn usage_of(storage: &dyn Storage, names: &[&str], since: DateTime<Utc>) -> Vec<BucketUsage> {
    match storage
        .admit(attempt(names, 1, None, since, later(1000)))
        .await
        .unwrap()
    {
        Admission::Refused(usage) => usage,
        Admission::Admitted(ticket) => {
            storage.withdraw(ticket).await.unwrap();
            vec![BucketUsage::default(); names.len()]
        }
    }
}

/// Admission counts a bucket's events strictly after the window start; a full bucket refuses
/// with the usage of every bucket and records nothing.
pub async fn admission_counts_events_strictly_after_the_window_start(storage: Arc<dyn Storage>) {
    count_in(&*storage, &["a", "b"], noon()).await;
    count_in(&*storage, &["a"], later(10)).await;
    let refused = storage
        .admit(attempt(
            &["a", "b", "unknown"],
            2,
            None,
            later(-1),
            later(20),
        ))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Admission::Refused(vec![
            BucketUsage {
                count: 2,
                oldest: Some(noon())
            },
            BucketUsage {
                count: 1,
                oldest: Some(noon())
            },
            BucketUsage::default(),
        ])
    );
    let admitted = storage
        .admit(attempt(&["a", "b", "unknown"], 2, None, noon(), later(20)))
        .await
        .unwrap();
    assert!(
        matches!(&admitted, Admission::Admitted(ticket) if ticket.0.len() == 3),
        "an event exactly one window old has left it: {admitted:?}"
    );
    assert_eq!(
        usage_of(&*storage, &["a", "b", "unknown"], later(-1)).await,
        vec![
            BucketUsage {
                count: 3,
                oldest: Some(noon())
            },
            BucketUsage {
                count: 2,
                oldest: Some(noon())
            },
            BucketUsage {
                count: 1,
                oldest: Some(later(20))
            },
        ],
        "the refused attempt recorded nothing, the admitted one an event per bucket"
    );
}

/// However many attempts on one bucket run at once, no more are admitted than its limit.
pub async fn concurrent_admissions_never_exceed_the_limit(storage: Arc<dyn Storage>) {
    let attempts = (0..60).map(|i| {
        let storage = storage.clone();
        let buckets: &[&str] = if i % 2 == 0 {
            &["shared", "even"]
        } else {
            &["odd", "shared"]
        };
        let attempt = attempt(buckets, 20, None, later(-60), noon());
        tokio::spawn(async move { storage.admit(attempt).await })
    });
    let admitted = join_all(attempts)
        .await
        .into_iter()
        .filter(|outcome| matches!(outcome, Ok(Ok(Admission::Admitted(_)))))
        .count();
    assert_eq!(admitted, 20);
    assert_eq!(
        usage_of(&*storage, &["shared"], later(-60)).await[0].count,
        20
    );
}

/// A withdrawn attempt stops counting in every bucket; withdrawing twice is harmless.
pub async fn a_withdrawn_attempt_stops_counting(storage: Arc<dyn Storage>) {
    count_in(&*storage, &["pair", "user"], noon()).await;
    let ticket = count_in(&*storage, &["pair", "user"], later(1)).await;
    storage.withdraw(ticket.clone()).await.unwrap();
    storage.withdraw(ticket).await.unwrap();
    let counts: Vec<u64> = usage_of(&*storage, &["pair", "user"], later(-1))
        .await
        .iter()
        .map(|u| u.count)
        .collect();
    assert_eq!(counts, vec![1, 1]);
}

/// Clearing a throttle bucket forgets its events and no other bucket's.
pub async fn clearing_a_bucket_forgets_only_that_bucket(storage: Arc<dyn Storage>) {
    count_in(&*storage, &["pair", "user", "ip"], noon()).await;
    storage.clear("pair".to_owned()).await.unwrap();
    let counts: Vec<u64> = usage_of(&*storage, &["pair", "user", "ip"], later(-1))
        .await
        .iter()
        .map(|u| u.count)
        .collect();
    assert_eq!(counts, vec![0, 1, 1]);
}

/// Clearing a subject forgets its events in every bucket, and nobody else's.
pub async fn clearing_a_subject_forgets_its_events_in_every_bucket(storage: Arc<dyn Storage>) {
    for (subject, buckets) in [
        (Some("victim"), ["pair-1", "ip"]),
        (Some("victim"), ["pair-2", "ip"]),
        (Some("other"), ["pair-3", "ip"]),
        (None, ["signup", "ip"]),
    ] {
        let admitted = storage
            .admit(attempt(&buckets, 10, subject, later(-1), noon()))
            .await
            .unwrap();
        assert!(matches!(admitted, Admission::Admitted(_)));
    }
    assert_eq!(storage.clear_subject("victim".to_owned()).await.unwrap(), 4);
    assert_eq!(storage.clear_subject("victim".to_owned()).await.unwrap(), 0);
    let counts: Vec<u64> = usage_of(
        &*storage,
        &["pair-1", "pair-2", "pair-3", "signup", "ip"],
        later(-1),
    )
    .await
    .iter()
    .map(|u| u.count)
    .collect();
    assert_eq!(counts, vec![0, 0, 1, 1, 2]);
}

/// Pruning removes throttle events older than the cutoff.
pub async fn throttle_events_older_than_the_cutoff_are_pruned(storage: Arc<dyn Storage>) {
    count_in(&*storage, &["a", "b"], noon()).await;
    count_in(&*storage, &["a"], later(100)).await;
    assert_eq!(storage.prune_events(later(50)).await.unwrap(), 2);
    let counts: Vec<u64> = usage_of(&*storage, &["a", "b"], later(-1))
        .await
        .iter()
        .map(|u| u.count)
        .collect();
    assert_eq!(counts, vec![1, 0]);
}

/// A login source is known from its latest success until the window passes it, then pruned.
pub async fn login_sources_are_known_within_their_window_and_pruned(storage: Arc<dyn Storage>) {
    let known = |source: &str, since| {
        let storage = storage.clone();
        let source = source.to_owned();
        async move { storage.is_known_source(source, since).await.unwrap() }
    };
    assert!(!known("home", later(-10)).await);
    storage
        .remember_source("home".into(), noon())
        .await
        .unwrap();
    storage
        .remember_source("away".into(), noon())
        .await
        .unwrap();
    storage
        .remember_source("home".into(), later(100))
        .await
        .unwrap();
    assert!(known("home", later(50)).await, "the latest success counts");
    assert!(!known("away", later(50)).await);
    assert!(!known("home", later(100)).await, "strictly after the start");
    assert_eq!(storage.prune_sources(later(50)).await.unwrap(), 1);
    assert!(known("home", later(-10)).await);
    assert!(!known("away", later(-10)).await, "pruned");
}
