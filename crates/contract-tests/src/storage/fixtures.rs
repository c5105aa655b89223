//! What every storage contract test starts from: a fixed time, users, and the ledger invariants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{AccountRole, ChatMessage, Tokens, User, UserId, Username, ledger};
use ports::{
    ChargeId, ChatReservation, CreatedUser, LedgerRepository, NewUser, PasswordHash, Reservation,
    Settlement, Storage, UserRepository,
};

/// 2025-01-01T12:00:00Z: the contract's "now".
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
}

/// `seconds` after [`noon`] (before it when negative).
pub fn later(seconds: i64) -> DateTime<Utc> {
    noon() + Duration::seconds(seconds)
}

/// An active, non-admin user named `name` who joins at [`noon`] with `grant` tokens.
pub fn new_user(name: &str, grant: i64) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        password_hash: PasswordHash("$2b$04$hash".into()),
        role: AccountRole::User,
        joined_at: noon(),
        signup_grant: Tokens::new(grant),
    }
}

/// Stores [`new_user`]`(name, grant)`; panics if the name is taken.
pub async fn create_user(storage: &dyn UserRepository, name: &str, grant: i64) -> User {
    match storage.create(new_user(name, grant)).await.unwrap() {
        CreatedUser::Created(user) => user,
        CreatedUser::UsernameTaken => panic!("{name} taken"),
    }
}

/// Asserts the ledger invariants for every account: no balance is negative and every balance
/// equals the sum of its ledger entries (the rules of [`domain::ledger::audit`]).
pub async fn assert_ledger_consistent(storage: &dyn LedgerRepository) {
    for totals in storage.ledger_totals().await.unwrap() {
        let violations = ledger::audit(totals.balance, totals.entries_sum);
        assert!(violations.is_empty(), "{violations:?} in {totals:?}");
    }
}

/// Reserves `price` for a chat of `user` at `at` (deadline a minute later); `None` when the
/// balance does not cover it.
pub async fn reserve_at(
    storage: &dyn Storage,
    user: UserId,
    price: i64,
    at: DateTime<Utc>,
) -> Option<ChargeId> {
    let reserved = storage
        .reserve(ChatReservation {
            user_id: user,
            price: Tokens::new(price),
            now: at,
            deadline: at + Duration::seconds(60),
            idempotency: None,
        })
        .await
        .unwrap();
    match reserved {
        Reservation::Reserved(charge) => Some(charge),
        Reservation::InsufficientTokens { .. } => None,
        other => panic!("{other:?}"),
    }
}

/// Stores the answered chat of a reserved `charge` at `at`; returns its id.
pub async fn settle_at(
    storage: &dyn Storage,
    charge: ChargeId,
    text: &str,
    at: DateTime<Utc>,
) -> i64 {
    let message = ChatMessage::parse(text).unwrap();
    match storage
        .settle(charge, &message, "answer", at)
        .await
        .unwrap()
    {
        Settlement::Settled(record) => record.id,
        Settlement::ChargeExpired => panic!("expired"),
    }
}

/// Stores one chat costing 100 for `user` at `at` through the real charge protocol; returns its
/// id.
pub async fn chat_at(storage: &dyn Storage, user: UserId, text: &str, at: DateTime<Utc>) -> i64 {
    let charge = reserve_at(storage, user, 100, at)
        .await
        .expect("the balance covers the chat");
    settle_at(storage, charge, text, at).await
}
