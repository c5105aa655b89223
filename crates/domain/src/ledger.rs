//! The rules of the token ledger: every balance change is an entry, a balance is the
//! sum of its entries, and no change may take a balance below zero.
//!
//! Storage applies these rules with conditional SQL updates (so concurrent requests cannot race
//! past them); [`Account`] is the same arithmetic in memory, property-tested below, and
//! [`audit`] is what `chat-api check-ledger` runs against stored data.

use std::{fmt, str::FromStr};

use crate::tokens::Tokens;

/// Why a balance changed. Stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerEntryKind {
    /// Tokens credited when the account was created.
    SignupGrant,
    /// The price of one chat, taken before the responder is asked.
    ChatDebit,
    /// A chat debit given back because no chat was delivered.
    Refund,
    /// A credit or debit made by an administrator, who is recorded with it.
    AdminAdjustment,
    /// The balance an account had before the ledger existed.
    OpeningBalance,
}

impl LedgerEntryKind {
    /// Every kind, for exhaustive tests and admin filters.
    pub const ALL: [LedgerEntryKind; 5] = [
        Self::SignupGrant,
        Self::ChatDebit,
        Self::Refund,
        Self::AdminAdjustment,
        Self::OpeningBalance,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignupGrant => "signup_grant",
            Self::ChatDebit => "chat_debit",
            Self::Refund => "refund",
            Self::AdminAdjustment => "admin_adjustment",
            Self::OpeningBalance => "opening_balance",
        }
    }
}

impl fmt::Display for LedgerEntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LedgerEntryKind {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| LedgerError::UnknownKind(s.to_owned()))
    }
}

/// A balance change the ledger refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The change would take the balance below zero.
    #[error("Insufficient tokens: {needed} needed, {available} left")]
    InsufficientTokens {
        /// Tokens the change needs.
        needed: Tokens,
        /// Tokens the account has.
        available: Tokens,
    },
    /// The change would overflow the balance.
    #[error("amount out of range")]
    OutOfRange,
    /// A stored kind this version does not know.
    #[error("unknown ledger entry kind {0:?}")]
    UnknownKind(String),
}

/// The balance after applying `amount` to `balance`, or why that is not allowed.
pub fn apply(balance: Tokens, amount: Tokens) -> Result<Tokens, LedgerError> {
    let after = balance.checked_add(amount).ok_or(LedgerError::OutOfRange)?;
    if after.get() < 0 {
        let needed = amount.checked_neg().ok_or(LedgerError::OutOfRange)?;
        return Err(LedgerError::InsufficientTokens {
            needed,
            available: balance,
        });
    }
    Ok(after)
}

/// One account's balance and entries in memory: the reference model the storage adapters must
/// agree with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    balance: Tokens,
    entries: Vec<(LedgerEntryKind, Tokens)>,
}

impl Account {
    /// An account with no entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry if the rules allow it; leaves the account unchanged otherwise.
    pub fn record(&mut self, kind: LedgerEntryKind, amount: Tokens) -> Result<Tokens, LedgerError> {
        self.balance = apply(self.balance, amount)?;
        self.entries.push((kind, amount));
        Ok(self.balance)
    }

    /// Current balance.
    pub fn balance(&self) -> Tokens {
        self.balance
    }

    /// Entries in the order they were recorded.
    pub fn entries(&self) -> &[(LedgerEntryKind, Tokens)] {
        &self.entries
    }
}

/// A broken ledger invariant of one user's account or chats, as reported by `check-ledger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerViolation {
    /// Invariant 1: the balance is below zero.
    NegativeBalance(Tokens),
    /// Invariant 3: the balance differs from the sum of the entries.
    BalanceMismatch {
        /// The stored balance.
        balance: Tokens,
        /// What the entries add up to.
        entries_sum: Tokens,
    },
    /// Invariant 4: a chat's recorded charge differs from what its ledger entries took.
    ChatChargeMismatch {
        /// The chat.
        chat_id: i64,
        /// The chat's `tokens_charged`.
        tokens_charged: Tokens,
        /// What the entries referencing the chat's charge took, net of refunds.
        ledger_net: Tokens,
    },
}

impl fmt::Display for LedgerViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NegativeBalance(balance) => write!(f, "negative balance {balance}"),
            Self::BalanceMismatch {
                balance,
                entries_sum,
            } => {
                write!(f, "balance {balance} differs from ledger sum {entries_sum}")
            }
            Self::ChatChargeMismatch {
                chat_id,
                tokens_charged,
                ledger_net,
            } => write!(
                f,
                "chat {chat_id} records {tokens_charged} tokens charged but its ledger entries \
                 took {ledger_net}"
            ),
        }
    }
}

/// Checks invariants 1 and 3 for one user's stored balance and ledger sum.
pub fn audit(balance: Tokens, entries_sum: Tokens) -> Vec<LedgerViolation> {
    let mut violations = Vec::new();
    if balance.get() < 0 {
        violations.push(LedgerViolation::NegativeBalance(balance));
    }
    if balance != entries_sum {
        violations.push(LedgerViolation::BalanceMismatch {
            balance,
            entries_sum,
        });
    }
    violations
}

/// Checks invariant 4 for one chat: its `tokens_charged` equals the net its ledger entries took
/// (debits minus refunds of its charge).
pub fn audit_chat(
    chat_id: i64,
    tokens_charged: Tokens,
    ledger_net: Tokens,
) -> Vec<LedgerViolation> {
    if tokens_charged == ledger_net {
        Vec::new()
    } else {
        vec![LedgerViolation::ChatChargeMismatch {
            chat_id,
            tokens_charged,
            ledger_net,
        }]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in LedgerEntryKind::ALL {
            assert_eq!(kind.as_str().parse::<LedgerEntryKind>(), Ok(kind));
        }
        assert!("bonus".parse::<LedgerEntryKind>().is_err());
    }

    #[test]
    fn a_debit_larger_than_the_balance_is_refused_with_both_numbers() {
        assert_eq!(
            apply(Tokens::new(50), Tokens::new(-100)),
            Err(LedgerError::InsufficientTokens {
                needed: Tokens::new(100),
                available: Tokens::new(50)
            })
        );
        assert_eq!(apply(Tokens::new(100), Tokens::new(-100)), Ok(Tokens::ZERO));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(
            apply(Tokens::new(i64::MAX), Tokens::new(1)),
            Err(LedgerError::OutOfRange)
        );
    }

    #[test]
    fn audit_reports_each_broken_invariant() {
        assert!(audit(Tokens::new(3900), Tokens::new(3900)).is_empty());
        assert_eq!(
            audit(Tokens::new(-100), Tokens::new(0)),
            vec![
                LedgerViolation::NegativeBalance(Tokens::new(-100)),
                LedgerViolation::BalanceMismatch {
                    balance: Tokens::new(-100),
                    entries_sum: Tokens::ZERO
                },
            ]
        );
    }

    #[test]
    fn a_chat_is_consistent_when_its_entries_took_what_it_records() {
        assert!(audit_chat(7, Tokens::new(100), Tokens::new(100)).is_empty());
        assert!(audit_chat(7, Tokens::ZERO, Tokens::ZERO).is_empty());
        let found = audit_chat(7, Tokens::new(100), Tokens::ZERO);
        assert_eq!(
            found,
            vec![LedgerViolation::ChatChargeMismatch {
                chat_id: 7,
                tokens_charged: Tokens::new(100),
                ledger_net: Tokens::ZERO
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "chat 7 records 100 tokens charged but its ledger entries took 0"
        );
    }

    fn operation() -> impl Strategy<Value = (LedgerEntryKind, i64)> {
        prop_oneof![
            (0..10_000i64).prop_map(|n| (LedgerEntryKind::SignupGrant, n)),
            (1..500i64).prop_map(|n| (LedgerEntryKind::ChatDebit, -n)),
            (1..500i64).prop_map(|n| (LedgerEntryKind::Refund, n)),
            (-5_000..5_000i64).prop_map(|n| (LedgerEntryKind::AdminAdjustment, n)),
            (0..10_000i64).prop_map(|n| (LedgerEntryKind::OpeningBalance, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_sequence_keeps_balance_equal_to_sum_and_never_negative(
            operations in proptest::collection::vec(operation(), 0..200)
        ) {
            let mut account = Account::new();
            for (kind, amount) in operations {
                let before = account.clone();
                match account.record(kind, Tokens::new(amount)) {
                    Ok(balance) => prop_assert_eq!(balance, account.balance()),
                    Err(LedgerError::InsufficientTokens { .. }) => {
                        prop_assert!(amount < 0);
                        prop_assert_eq!(&account, &before, "a refused change must not be recorded");
                    }
                    Err(other) => prop_assert!(false, "unexpected {other}"),
                }
                let sum: i64 = account.entries().iter().map(|(_, amount)| amount.get()).sum();
                prop_assert_eq!(account.balance().get(), sum);
                prop_assert!(account.balance().get() >= 0);
                prop_assert!(audit(account.balance(), Tokens::new(sum)).is_empty());
            }
        }
    }
}
