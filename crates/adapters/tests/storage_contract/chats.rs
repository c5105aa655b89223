use domain::{ChatMessage, Tokens, UserId};
use futures_util::future::join_all;
use ports::{
    ChargeId, ChatRecord, ChatRepository, ChatReservation, IdempotencyKey, IdempotencyKeyState,
    Reservation, Settlement, UserRepository,
};

use super::*;

fn reservation(user: UserId, price: i64, deadline_secs: i64) -> ChatReservation {
    ChatReservation {
        user_id: user,
        price: Tokens::new(price),
        now: noon(),
        deadline: later(deadline_secs),
        idempotency: None,
    }
}

fn keyed(user: UserId, key: &str, fingerprint: &str) -> ChatReservation {
    ChatReservation {
        idempotency: Some(IdempotencyKey {
            key: key.into(),
            request_fingerprint: fingerprint.into(),
            not_before: noon() - Duration::hours(24),
        }),
        ..reservation(user, 100, 60)
    }
}

async fn reserve(storage: &DieselStorage, r: ChatReservation) -> ChargeId {
    match storage.reserve(r).await.unwrap() {
        Reservation::Reserved(charge) => charge,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

async fn settle(storage: &DieselStorage, charge: ChargeId, text: &str) -> ChatRecord {
    let message = ChatMessage::parse(text).unwrap();
    match storage
        .settle(charge, &message, "answer", later(1))
        .await
        .unwrap()
    {
        Settlement::Settled(record) => record,
        Settlement::ChargeExpired => panic!("charge expired"),
    }
}

async fn balance(storage: &DieselStorage, user: UserId) -> i64 {
    storage
        .find_by_id(user)
        .await
        .unwrap()
        .unwrap()
        .tokens
        .get()
}

test_support::backend_tests! {
    async fn a_reserved_and_settled_chat_is_charged_once_and_stored(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "alice", 4000).await;
        let charge = reserve(&store.storage, reservation(user.id, 100, 60)).await;
        assert_eq!(balance(&store.storage, user.id).await, 3900, "the price is taken at reservation");
        let hostile = "<script>alert(1)</script>'; DROP TABLE chats;-- ✓ \u{1F600}";
        let record = settle(&store.storage, charge, hostile).await;
        assert_eq!((record.user_id, record.message.as_str(), record.response.as_str()), (user.id, hostile, "answer"));
        assert_eq!(record.timestamp, later(1));
        assert_eq!(balance(&store.storage, user.id).await, 3900);
        assert_eq!(store.storage.chat_count(user.id).await.unwrap(), 1);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn a_balance_below_the_price_reserves_nothing(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "bob", 150).await;
        reserve(&store.storage, reservation(user.id, 100, 60)).await;
        let refused = store.storage.reserve(reservation(user.id, 100, 60)).await.unwrap();
        assert_eq!(refused, Reservation::InsufficientTokens { available: Tokens::new(50) });
        assert_eq!(balance(&store.storage, user.id).await, 50);
        let unknown = store.storage.reserve(reservation(UserId(424_242), 100, 60)).await.unwrap();
        assert_eq!(unknown, Reservation::UserNotFound);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn a_refund_restores_the_balance_once_and_blocks_settling(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "carol", 100).await;
        let charge = reserve(&store.storage, reservation(user.id, 100, 60)).await;
        assert!(store.storage.refund(charge, "responder failed", later(1)).await.unwrap());
        assert!(!store.storage.refund(charge, "again", later(2)).await.unwrap(), "refunds are not repeated");
        assert_eq!(balance(&store.storage, user.id).await, 100);
        let message = ChatMessage::parse("late").unwrap();
        assert_eq!(store.storage.settle(charge, &message, "x", later(3)).await.unwrap(), Settlement::ChargeExpired);
        assert_eq!(store.storage.chat_count(user.id).await.unwrap(), 0);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn a_settled_charge_cannot_be_refunded(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "dave", 100).await;
        let charge = reserve(&store.storage, reservation(user.id, 100, 60)).await;
        settle(&store.storage, charge, "hi").await;
        assert!(!store.storage.refund(charge, "too late", later(2)).await.unwrap());
        assert_eq!(store.storage.refund_expired(later(3600)).await.unwrap(), 0);
        assert_eq!(balance(&store.storage, user.id).await, 0);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn the_sweeper_refunds_only_pending_charges_past_their_deadline(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "erin", 1000).await;
        let expired = reserve(&store.storage, reservation(user.id, 100, 10)).await;
        let _live = reserve(&store.storage, reservation(user.id, 100, 100)).await;
        let settled = reserve(&store.storage, reservation(user.id, 100, 10)).await;
        settle(&store.storage, settled, "done").await;
        assert_eq!(balance(&store.storage, user.id).await, 700);
        assert_eq!(store.storage.refund_expired(later(10)).await.unwrap(), 0, "a deadline is exclusive");
        assert_eq!(store.storage.refund_expired(later(11)).await.unwrap(), 1);
        assert_eq!(balance(&store.storage, user.id).await, 800);
        assert!(!store.storage.refund(expired, "late", later(12)).await.unwrap());
        assert_eq!(store.storage.refund_expired(later(101)).await.unwrap(), 1);
        assert_eq!(balance(&store.storage, user.id).await, 900);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn concurrent_reservations_never_overspend(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "frank", 1000).await;
        let attempts = (0..50).map(|_| {
            let storage = store.storage.clone();
            tokio::spawn(async move { storage.reserve(reservation(user.id, 100, 60)).await })
        });
        let results: Vec<_> = join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
        let reserved = results.iter().filter(|r| matches!(r, Reservation::Reserved(_))).count();
        assert_eq!(reserved, 10);
        assert!(results.iter().all(|r| matches!(r, Reservation::Reserved(_) | Reservation::InsufficientTokens { .. })));
        assert_eq!(balance(&store.storage, user.id).await, 0);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn an_idempotency_key_is_in_progress_then_replays_its_chat(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "gina", 1000).await;
        let charge = reserve(&store.storage, keyed(user.id, "k1", "fp")).await;
        assert_eq!(store.storage.reserve(keyed(user.id, "k1", "fp")).await.unwrap(), Reservation::InProgress);
        assert_eq!(store.storage.reserve(keyed(user.id, "k1", "other")).await.unwrap(), Reservation::KeyReused);
        let record = settle(&store.storage, charge, "hello").await;
        assert_eq!(store.storage.reserve(keyed(user.id, "k1", "fp")).await.unwrap(), Reservation::Replay(record));
        assert_eq!(store.storage.reserve(keyed(user.id, "k1", "other")).await.unwrap(), Reservation::KeyReused);
        assert_eq!(balance(&store.storage, user.id).await, 900, "one charge for the key");
        let other_user = create_user(&store.storage, "hank", 1000).await;
        reserve(&store.storage, keyed(other_user.id, "k1", "fp")).await;
        assert_ledger_consistent(&store.storage).await;
    }

    async fn a_refund_releases_the_idempotency_key(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "ivan", 1000).await;
        let charge = reserve(&store.storage, keyed(user.id, "k", "fp")).await;
        store.storage.refund(charge, "responder failed", later(1)).await.unwrap();
        reserve(&store.storage, keyed(user.id, "k", "fp")).await;
        assert_eq!(balance(&store.storage, user.id).await, 900);
        assert_ledger_consistent(&store.storage).await;
    }

    async fn a_key_older_than_its_lifetime_is_forgotten(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "judy", 1000).await;
        let charge = reserve(&store.storage, keyed(user.id, "k", "fp")).await;
        settle(&store.storage, charge, "hi").await;
        let mut next_day = keyed(user.id, "k", "different");
        if let Some(key) = next_day.idempotency.as_mut() {
            key.not_before = later(1);
        }
        assert!(matches!(store.storage.reserve(next_day).await.unwrap(), Reservation::Reserved(_)));
    }

    async fn concurrent_duplicates_claim_a_key_once(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "kate", 1000).await;
        let attempts = (0..20).map(|_| {
            let storage = store.storage.clone();
            tokio::spawn(async move { storage.reserve(keyed(user.id, "same", "fp")).await })
        });
        let results: Vec<_> = join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| matches!(r, Reservation::Reserved(_))).count(), 1, "{results:?}");
        assert!(results.iter().all(|r| matches!(r, Reservation::Reserved(_) | Reservation::InProgress)));
        assert_eq!(balance(&store.storage, user.id).await, 900);
    }

    async fn an_idempotency_key_reports_its_state(backend: Backend) {
        let store = store(backend);
        let user = create_user(&store.storage, "liam", 1000).await;
        let state = |key: &'static str| store.storage.idempotency_key_state(user.id, key);
        assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::Absent);
        let charge = reserve(&store.storage, keyed(user.id, "w", "fp")).await;
        assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::InProgress);
        settle(&store.storage, charge, "hi").await;
        assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::Completed);
        let refunded = reserve(&store.storage, keyed(user.id, "r", "fp")).await;
        store.storage.refund(refunded, "responder failed", later(1)).await.unwrap();
        assert_eq!(state("r").await.unwrap(), IdempotencyKeyState::Absent, "a refund releases the key");
    }
}
