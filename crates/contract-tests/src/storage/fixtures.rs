//! What every storage contract test starts from: a fixed time, users, and the ledger invariants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{AccountRole, Tokens, User, Username, ledger};
use ports::{CreatedUser, LedgerRepository, NewUser, PasswordHash, UserRepository};

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
