//! What every storage contract test starts from: a fixed time, users, and the ledger invariants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{
    AccountRole, ChatMessage, ChatStatus, TokenCounts, Tokens, User, UserId, Username, ledger,
};
use ports::{
    ChargeId, ChatReservation, CreatedUser, FinishedChat, LedgerRepository, NewUser, PasswordHash,
    Reservation, Settlement, Storage, UserRepository,
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

/// The answer `"answer"` to `text` by `model-x` (12 prompt and 34 completion tokens), ending
/// with `status` at `at` and costing `charged`.
pub fn finished_chat(
    text: &str,
    status: ChatStatus,
    charged: i64,
    at: DateTime<Utc>,
) -> FinishedChat {
    FinishedChat {
        message: ChatMessage::parse(text).unwrap(),
        response: "answer".into(),
        status,
        charged: Tokens::new(charged),
        model: "model-x".into(),
        tokens: TokenCounts {
            prompt: 12,
            completion: 34,
        },
        at,
    }
}

/// Asserts the ledger invariants for every account and chat: no balance is negative, every
/// balance equals the sum of its ledger entries, and every chat's `tokens_charged` equals what its
/// charge's entries took (the rules of [`domain::ledger::audit`] and
/// [`domain::ledger::audit_chat`]).
pub async fn assert_ledger_consistent(storage: &dyn LedgerRepository) {
    for totals in storage.ledger_totals().await.unwrap() {
        let violations = ledger::audit(totals.balance, totals.entries_sum);
        assert!(violations.is_empty(), "{violations:?} in {totals:?}");
    }
    for chat in storage.chat_ledger_totals().await.unwrap() {
        let violations = ledger::audit_chat(chat.chat_id, chat.tokens_charged, chat.ledger_net);
        assert!(violations.is_empty(), "{violations:?} in {chat:?}");
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
            amount: Tokens::new(price),
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

/// Stores the completed chat of a reserved `charge` at `at`, costing `charged` (the rest of the
/// reservation is refunded); returns its id.
pub async fn settle_at(
    storage: &dyn Storage,
    charge: ChargeId,
    text: &str,
    charged: i64,
    at: DateTime<Utc>,
) -> i64 {
    match storage
        .settle(
            charge,
            finished_chat(text, ChatStatus::Completed, charged, at),
        )
        .await
        .unwrap()
    {
        Settlement::Settled(settled) => settled.record.id,
        Settlement::ChargeExpired => panic!("expired"),
    }
}

/// Stores one completed chat costing 100 for `user` at `at` through the real charge protocol;
/// returns its id.
pub async fn chat_at(storage: &dyn Storage, user: UserId, text: &str, at: DateTime<Utc>) -> i64 {
    let charge = reserve_at(storage, user, 100, at)
        .await
        .expect("the balance covers the chat");
    settle_at(storage, charge, text, 100, at).await
}
