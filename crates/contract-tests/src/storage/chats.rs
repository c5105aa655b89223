//! The chat repository's contract: the charge protocol (reserve, settle, refund, sweep),
//! idempotency keys, and the conversation memory.

use std::sync::Arc;

use chrono::Duration;
use domain::{ChatStatus, LedgerEntryKind, TokenCounts, Tokens, UserId};
use futures_util::future::join_all;
use ports::{
    ChargeId, ChatRecord, ChatReservation, FinishedChat, IdempotencyKey, IdempotencyKeyState,
    Reservation, SettledChat, Settlement, Storage,
};

use super::{assert_ledger_consistent, create_user, finished_chat, later, noon};

fn reservation(user: UserId, amount: i64, deadline_secs: i64) -> ChatReservation {
    ChatReservation {
        user_id: user,
        amount: Tokens::new(amount),
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

async fn reserve(storage: &dyn Storage, r: ChatReservation) -> ChargeId {
    match storage.reserve(r).await.unwrap() {
        Reservation::Reserved(charge) => charge,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

/// [`finished_chat`] at [`later`]`(1)`.
fn finished(text: &str, status: ChatStatus, charged: i64) -> FinishedChat {
    finished_chat(text, status, charged, later(1))
}

async fn settle_as(storage: &dyn Storage, charge: ChargeId, chat: FinishedChat) -> SettledChat {
    match storage.settle(charge, chat).await.unwrap() {
        Settlement::Settled(settled) => settled,
        Settlement::ChargeExpired => panic!("charge expired"),
    }
}

/// Settles `charge` as a completed answer to `text` costing the flat 100.
async fn settle(storage: &dyn Storage, charge: ChargeId, text: &str) -> ChatRecord {
    settle_as(storage, charge, finished(text, ChatStatus::Completed, 100))
        .await
        .record
}

async fn balance(storage: &dyn Storage, user: UserId) -> i64 {
    storage
        .find_by_id(user)
        .await
        .unwrap()
        .unwrap()
        .tokens
        .get()
}

/// Reserving takes the price at once; settling stores the chat verbatim and charges nothing more.
pub async fn a_reserved_and_settled_chat_is_charged_once_and_stored(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "alice", 4000).await;
    let charge = reserve(&*storage, reservation(user.id, 100, 60)).await;
    assert_eq!(
        balance(&*storage, user.id).await,
        3900,
        "the price is taken at reservation"
    );
    let hostile = "<script>alert(1)</script>'; DROP TABLE chats;-- ✓ \u{1F600}";
    let record = settle(&*storage, charge, hostile).await;
    assert_eq!(
        (
            record.user_id,
            record.message.as_str(),
            record.response.as_str()
        ),
        (user.id, hostile, "answer")
    );
    assert_eq!(record.timestamp, later(1));
    assert_eq!(
        (record.status, record.tokens_charged),
        (ChatStatus::Completed, Tokens::new(100))
    );
    assert_eq!(balance(&*storage, user.id).await, 3900);
    assert_eq!(storage.completed_chat_count(user.id).await.unwrap(), 1);
    assert_ledger_consistent(&*storage).await;
}

/// A balance below the price reserves nothing and changes no balance; an unknown user is
/// reported as such.
pub async fn a_balance_below_the_price_reserves_nothing(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "bob", 150).await;
    reserve(&*storage, reservation(user.id, 100, 60)).await;
    let refused = storage
        .reserve(reservation(user.id, 100, 60))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Reservation::InsufficientTokens {
            available: Tokens::new(50)
        }
    );
    assert_eq!(balance(&*storage, user.id).await, 50);
    let unknown = storage
        .reserve(reservation(UserId(424_242), 100, 60))
        .await
        .unwrap();
    assert_eq!(unknown, Reservation::UserNotFound);
    assert_ledger_consistent(&*storage).await;
}

/// A refund restores the price exactly once, and a refunded charge can no longer be settled.
pub async fn a_refund_restores_the_balance_once_and_blocks_settling(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "carol", 100).await;
    let charge = reserve(&*storage, reservation(user.id, 100, 60)).await;
    assert!(
        storage
            .refund(charge, "responder failed", later(1))
            .await
            .unwrap()
    );
    assert!(
        !storage.refund(charge, "again", later(2)).await.unwrap(),
        "refunds are not repeated"
    );
    assert_eq!(balance(&*storage, user.id).await, 100);
    assert_eq!(
        storage
            .settle(charge, finished("late", ChatStatus::Completed, 100))
            .await
            .unwrap(),
        Settlement::ChargeExpired
    );
    assert_eq!(storage.completed_chat_count(user.id).await.unwrap(), 0);
    assert_ledger_consistent(&*storage).await;
}

/// A settled charge is final: neither a refund nor the sweeper gives its price back.
pub async fn a_settled_charge_cannot_be_refunded(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "dave", 100).await;
    let charge = reserve(&*storage, reservation(user.id, 100, 60)).await;
    settle(&*storage, charge, "hi").await;
    assert!(!storage.refund(charge, "too late", later(2)).await.unwrap());
    assert_eq!(storage.refund_expired(later(3600)).await.unwrap(), 0);
    assert_eq!(balance(&*storage, user.id).await, 0);
    assert_ledger_consistent(&*storage).await;
}

/// The sweeper refunds pending charges strictly past their deadline, and only those.
pub async fn the_sweeper_refunds_only_pending_charges_past_their_deadline(
    storage: Arc<dyn Storage>,
) {
    let user = create_user(&*storage, "erin", 1000).await;
    let expired = reserve(&*storage, reservation(user.id, 100, 10)).await;
    let _live = reserve(&*storage, reservation(user.id, 100, 100)).await;
    let settled = reserve(&*storage, reservation(user.id, 100, 10)).await;
    settle(&*storage, settled, "done").await;
    assert_eq!(balance(&*storage, user.id).await, 700);
    assert_eq!(
        storage.refund_expired(later(10)).await.unwrap(),
        0,
        "a deadline is exclusive"
    );
    assert_eq!(storage.refund_expired(later(11)).await.unwrap(), 1);
    assert_eq!(balance(&*storage, user.id).await, 800);
    assert!(!storage.refund(expired, "late", later(12)).await.unwrap());
    assert_eq!(storage.refund_expired(later(101)).await.unwrap(), 1);
    assert_eq!(balance(&*storage, user.id).await, 900);
    assert_ledger_consistent(&*storage).await;
}

/// Concurrent reservations never take a balance below zero.
pub async fn concurrent_reservations_never_overspend(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "frank", 1000).await;
    let attempts = (0..50).map(|_| {
        let storage = storage.clone();
        tokio::spawn(async move { storage.reserve(reservation(user.id, 100, 60)).await })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let reserved = results
        .iter()
        .filter(|r| matches!(r, Reservation::Reserved(_)))
        .count();
    assert_eq!(reserved, 10);
    assert!(results.iter().all(|r| matches!(
        r,
        Reservation::Reserved(_) | Reservation::InsufficientTokens { .. }
    )));
    assert_eq!(balance(&*storage, user.id).await, 0);
    assert_ledger_consistent(&*storage).await;
}

/// An idempotency key is in progress until settled, then replays its chat; another body with the same key is refused; keys are per user.
pub async fn an_idempotency_key_is_in_progress_then_replays_its_chat(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "gina", 1000).await;
    let charge = reserve(&*storage, keyed(user.id, "k1", "fp")).await;
    assert_eq!(
        storage.reserve(keyed(user.id, "k1", "fp")).await.unwrap(),
        Reservation::InProgress
    );
    assert_eq!(
        storage
            .reserve(keyed(user.id, "k1", "other"))
            .await
            .unwrap(),
        Reservation::KeyReused
    );
    let record = settle(&*storage, charge, "hello").await;
    assert_eq!(
        storage.reserve(keyed(user.id, "k1", "fp")).await.unwrap(),
        Reservation::Replay(record)
    );
    assert_eq!(
        storage
            .reserve(keyed(user.id, "k1", "other"))
            .await
            .unwrap(),
        Reservation::KeyReused
    );
    assert_eq!(
        balance(&*storage, user.id).await,
        900,
        "one charge for the key"
    );
    let other_user = create_user(&*storage, "hank", 1000).await;
    reserve(&*storage, keyed(other_user.id, "k1", "fp")).await;
    assert_ledger_consistent(&*storage).await;
}

/// A refunded charge frees its idempotency key for a new attempt.
pub async fn a_refund_releases_the_idempotency_key(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "ivan", 1000).await;
    let charge = reserve(&*storage, keyed(user.id, "k", "fp")).await;
    storage
        .refund(charge, "responder failed", later(1))
        .await
        .unwrap();
    reserve(&*storage, keyed(user.id, "k", "fp")).await;
    assert_eq!(balance(&*storage, user.id).await, 900);
    assert_ledger_consistent(&*storage).await;
}

/// A key used before the caller's `not_before` is forgotten and can be claimed afresh.
pub async fn a_key_older_than_its_lifetime_is_forgotten(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "judy", 1000).await;
    let charge = reserve(&*storage, keyed(user.id, "k", "fp")).await;
    settle(&*storage, charge, "hi").await;
    let mut next_day = keyed(user.id, "k", "different");
    if let Some(key) = next_day.idempotency.as_mut() {
        key.not_before = later(1);
    }
    assert!(matches!(
        storage.reserve(next_day).await.unwrap(),
        Reservation::Reserved(_)
    ));
}

/// Concurrent requests with one idempotency key charge once; the others see it in progress.
pub async fn concurrent_duplicates_claim_a_key_once(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "kate", 1000).await;
    let attempts = (0..20).map(|_| {
        let storage = storage.clone();
        tokio::spawn(async move { storage.reserve(keyed(user.id, "same", "fp")).await })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Reservation::Reserved(_)))
            .count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Reservation::Reserved(_) | Reservation::InProgress))
    );
    assert_eq!(balance(&*storage, user.id).await, 900);
}

/// An idempotency key is absent, then in progress while its charge is pending, then completed
/// once settled; a refund releases it (absent again).
pub async fn an_idempotency_key_reports_its_state(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "liam", 1000).await;
    let state = |key: &'static str| storage.idempotency_key_state(user.id, key);
    assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::Absent);
    let charge = reserve(&*storage, keyed(user.id, "w", "fp")).await;
    assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::InProgress);
    settle(&*storage, charge, "hi").await;
    assert_eq!(state("w").await.unwrap(), IdempotencyKeyState::Completed);
    let refunded = reserve(&*storage, keyed(user.id, "r", "fp")).await;
    storage
        .refund(refunded, "responder failed", later(1))
        .await
        .unwrap();
    assert_eq!(
        state("r").await.unwrap(),
        IdempotencyKeyState::Absent,
        "a refund releases the key"
    );
}

/// Settling charges what the answer cost and, in the same step, refunds the rest of the
/// reservation; the debit carries the model and token counts, and the balance the settlement
/// reports is the one stored.
pub async fn settling_charges_the_actual_price_and_refunds_the_rest(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "mona", 4000).await;
    let charge = reserve(&*storage, reservation(user.id, 500, 60)).await;
    assert_eq!(balance(&*storage, user.id).await, 3500);
    let settled = settle_as(
        &*storage,
        charge,
        finished("per token", ChatStatus::Completed, 120),
    )
    .await;
    assert_eq!(settled.record.tokens_charged, Tokens::new(120));
    assert_eq!(settled.balance, Tokens::new(3880));
    assert_eq!(balance(&*storage, user.id).await, 3880);
    let ledger = storage.user_ledger(user.id, 10).await.unwrap();
    let chat_lines: Vec<_> = ledger
        .iter()
        .filter(|line| line.kind != LedgerEntryKind::SignupGrant)
        .map(|line| (line.kind, line.amount.get(), line.usage.clone()))
        .collect();
    let usage = (
        "model-x".to_owned(),
        TokenCounts {
            prompt: 12,
            completion: 34,
        },
    );
    assert_eq!(
        chat_lines,
        vec![
            (LedgerEntryKind::Refund, 380, None),
            (LedgerEntryKind::ChatDebit, -500, Some(usage)),
        ],
        "newest first: the refund of the unused part after the annotated debit"
    );
    assert_ledger_consistent(&*storage).await;
}

/// Whatever a caller asks, a chat never costs more than was reserved.
pub async fn a_charge_above_the_reservation_is_capped(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "nick", 1000).await;
    let charge = reserve(&*storage, reservation(user.id, 300, 60)).await;
    let settled = settle_as(
        &*storage,
        charge,
        finished("greedy", ChatStatus::Completed, 900),
    )
    .await;
    assert_eq!(settled.record.tokens_charged, Tokens::new(300));
    assert_eq!(balance(&*storage, user.id).await, 700);
    assert_ledger_consistent(&*storage).await;
}

/// An interrupted exchange is stored as such with what it cost (here nothing: a full refund),
/// is not counted as a completed chat, and releases its idempotency key for a retry.
pub async fn an_interrupted_chat_is_stored_refunded_and_releases_its_key(
    storage: Arc<dyn Storage>,
) {
    let user = create_user(&*storage, "olga", 1000).await;
    let charge = reserve(&*storage, keyed(user.id, "cut", "fp")).await;
    let settled = settle_as(
        &*storage,
        charge,
        finished("cut short", ChatStatus::Interrupted, 0),
    )
    .await;
    assert_eq!(
        (settled.record.status, settled.record.tokens_charged),
        (ChatStatus::Interrupted, Tokens::ZERO)
    );
    assert_eq!(settled.balance, Tokens::new(1000));
    assert_eq!(balance(&*storage, user.id).await, 1000);
    assert_eq!(storage.completed_chat_count(user.id).await.unwrap(), 0);
    assert_eq!(
        storage.idempotency_key_state(user.id, "cut").await.unwrap(),
        IdempotencyKeyState::Absent
    );
    let listed = storage
        .list_chats(
            ports::ChatFilter {
                user: Some(user.id),
                ..Default::default()
            },
            ports::Window {
                offset: 0,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "the interrupted exchange is stored");
    assert_eq!(listed.items[0].chat.status, ChatStatus::Interrupted);
    reserve(&*storage, keyed(user.id, "cut", "fp")).await;
    assert_ledger_consistent(&*storage).await;
}

/// Every chat settled through a charge is listed for the audit with what its entries took, which
/// equals its `tokens_charged`; refunded and pending charges have no chat.
pub async fn every_settled_chat_matches_its_ledger_entries(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "paul", 4000).await;
    let mut expected = Vec::new();
    for (status, reserved, charged) in [
        (ChatStatus::Completed, 100, 100),
        (ChatStatus::Completed, 500, 37),
        (ChatStatus::Interrupted, 100, 0),
        (ChatStatus::Interrupted, 500, 12),
    ] {
        let charge = reserve(&*storage, reservation(user.id, reserved, 60)).await;
        let settled = settle_as(&*storage, charge, finished("x", status, charged)).await;
        expected.push((settled.record.id, Tokens::new(charged)));
    }
    let refunded = reserve(&*storage, reservation(user.id, 100, 60)).await;
    storage.refund(refunded, "failed", later(2)).await.unwrap();
    reserve(&*storage, reservation(user.id, 100, 60)).await;
    let totals = storage.chat_ledger_totals().await.unwrap();
    let seen: Vec<_> = totals
        .iter()
        .map(|chat| (chat.chat_id, chat.tokens_charged))
        .collect();
    assert_eq!(seen, expected);
    assert!(
        totals
            .iter()
            .all(|chat| chat.ledger_net == chat.tokens_charged && chat.user_id == user.id),
        "{totals:?}"
    );
    assert_eq!(balance(&*storage, user.id).await, 4000 - 149 - 100);
    assert_ledger_consistent(&*storage).await;
}

/// The conversation memory is the user's last completed exchanges, oldest first; interrupted
/// exchanges and other users' chats are left out.
pub async fn recent_exchanges_are_the_last_completed_ones_oldest_first(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "quinn", 4000).await;
    let other = create_user(&*storage, "rita", 4000).await;
    for (i, status) in [
        ChatStatus::Completed,
        ChatStatus::Completed,
        ChatStatus::Completed,
        ChatStatus::Interrupted,
        ChatStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let charge = reserve(&*storage, reservation(user.id, 100, 60)).await;
        let chat = FinishedChat {
            at: later(i as i64),
            ..finished(&format!("m{i}"), status, 0)
        };
        settle_as(&*storage, charge, chat).await;
    }
    let charge = reserve(&*storage, reservation(other.id, 100, 60)).await;
    settle(&*storage, charge, "not yours").await;
    let messages = |records: Vec<ChatRecord>| {
        records
            .into_iter()
            .map(|record| record.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        messages(storage.recent_exchanges(user.id, 3).await.unwrap()),
        vec!["m1", "m2", "m4"]
    );
    assert_eq!(
        messages(storage.recent_exchanges(user.id, 10).await.unwrap()),
        vec!["m0", "m1", "m2", "m4"]
    );
    assert!(
        storage
            .recent_exchanges(user.id, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A charge counts as pending from its reservation until it is settled, refunded or swept.
pub async fn pending_charges_count_what_is_neither_settled_nor_refunded(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "mia", 1000).await;
    assert_eq!(storage.pending_charges().await.unwrap(), 0);
    let settled = reserve(&*storage, reservation(user.id, 100, 60)).await;
    let refunded = reserve(&*storage, reservation(user.id, 100, 60)).await;
    reserve(&*storage, reservation(user.id, 100, 1)).await;
    assert_eq!(storage.pending_charges().await.unwrap(), 3);
    settle(&*storage, settled, "kept").await;
    assert!(
        storage
            .refund(refunded, "responder failed", later(1))
            .await
            .unwrap()
    );
    assert_eq!(storage.pending_charges().await.unwrap(), 1);
    assert_eq!(storage.refund_expired(later(2)).await.unwrap(), 1);
    assert_eq!(storage.pending_charges().await.unwrap(), 0);
}
