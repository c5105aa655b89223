//! `chat-api check-ledger` and the ledger metrics: every account's balance checked against its
//! ledger, every chat's recorded charge against its ledger entries, and the charges still
//! pending.

use std::sync::Arc;

use domain::{
    UserId,
    ledger::{LedgerViolation, audit, audit_chat},
};
use ports::LedgerRepository;

use crate::AppError;

/// One broken invariant of one account (or of one of its chats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountViolation {
    /// The account.
    pub user_id: UserId,
    /// Its username, so the report names whom it concerns.
    pub username: String,
    /// What is wrong.
    pub violation: LedgerViolation,
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerReport {
    /// How many accounts were checked.
    pub accounts: usize,
    /// How many chats were checked against their charges' entries.
    pub chats: usize,
    /// The sum of their balances.
    pub total_balance: i64,
    /// Every broken invariant: the accounts' in account order, then the chats' in chat order.
    pub violations: Vec<AccountViolation>,
    /// Sum over accounts of |balance − ledger sum|: 0 exactly when every balance matches.
    pub drift: u64,
    /// Chat charges taken and neither settled nor refunded yet, read just after the totals.
    pub pending_charges: i64,
}

impl LedgerReport {
    /// Whether no invariant is broken.
    pub fn is_consistent(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks that no balance is negative, that every balance equals the sum of its account's ledger
/// entries, and that every chat's `tokens_charged` equals what its charge's entries took (each
/// read from one consistent snapshot); counts the pending charges.
pub struct AuditLedger {
    ledger: Arc<dyn LedgerRepository>,
}

impl AuditLedger {
    /// Wires the use case.
    pub fn new(ledger: Arc<dyn LedgerRepository>) -> Self {
        Self { ledger }
    }

    /// Audits every account and every chat.
    pub async fn execute(&self) -> Result<LedgerReport, AppError> {
        let totals = self.ledger.ledger_totals().await?;
        let chats = self.ledger.chat_ledger_totals().await?;
        let of_accounts = totals.iter().flat_map(|account| {
            audit(account.balance, account.entries_sum)
                .into_iter()
                .map(|violation| AccountViolation {
                    user_id: account.user_id,
                    username: account.username.clone(),
                    violation,
                })
        });
        let of_chats = chats.iter().flat_map(|chat| {
            audit_chat(chat.chat_id, chat.tokens_charged, chat.ledger_net)
                .into_iter()
                .map(|violation| AccountViolation {
                    user_id: chat.user_id,
                    username: chat.username.clone(),
                    violation,
                })
        });
        let drift = totals
            .iter()
            .map(|t| t.balance.get().abs_diff(t.entries_sum.get()))
            .fold(0, u64::saturating_add);
        Ok(LedgerReport {
            accounts: totals.len(),
            chats: chats.len(),
            total_balance: totals.iter().map(|t| t.balance.get()).sum(),
            violations: of_accounts.chain(of_chats).collect(),
            drift,
            pending_charges: self.ledger.pending_charges().await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use domain::Tokens;
    use futures_executor::block_on;
    use ports::{ChatLedgerTotals, LedgerTotals, MockLedgerRepository, StorageError};

    use super::*;

    fn totals(id: i64, balance: i64, entries_sum: i64) -> LedgerTotals {
        LedgerTotals {
            user_id: UserId(id),
            username: format!("user{id}"),
            balance: Tokens::new(balance),
            entries_sum: Tokens::new(entries_sum),
        }
    }

    fn chat(id: i64, user: i64, tokens_charged: i64, ledger_net: i64) -> ChatLedgerTotals {
        ChatLedgerTotals {
            chat_id: id,
            user_id: UserId(user),
            username: format!("user{user}"),
            tokens_charged: Tokens::new(tokens_charged),
            ledger_net: Tokens::new(ledger_net),
        }
    }

    fn audit_of(
        rows: Vec<LedgerTotals>,
        chats: Vec<ChatLedgerTotals>,
    ) -> Result<LedgerReport, AppError> {
        let mut ledger = MockLedgerRepository::new();
        ledger.expect_ledger_totals().return_once(move || Ok(rows));
        ledger
            .expect_chat_ledger_totals()
            .return_once(move || Ok(chats));
        ledger.expect_pending_charges().return_once(|| Ok(2));
        block_on(AuditLedger::new(Arc::new(ledger)).execute())
    }

    #[test]
    fn a_consistent_ledger_reports_its_accounts_chats_and_total() {
        let report = audit_of(
            vec![totals(1, 3900, 3900), totals(2, 0, 0)],
            vec![chat(10, 1, 100, 100), chat(11, 1, 0, 0)],
        )
        .unwrap();
        assert!(report.is_consistent());
        assert_eq!(
            (report.accounts, report.chats, report.total_balance),
            (2, 2, 3900)
        );
        assert_eq!((report.drift, report.pending_charges), (0, 2));
    }

    #[test]
    fn drift_adds_up_every_account_gap_whichever_its_sign() {
        let report = audit_of(
            vec![
                totals(1, 3901, 3900),
                totals(2, 3900, 3905),
                totals(3, 7, 7),
            ],
            Vec::new(),
        )
        .unwrap();
        assert_eq!(report.drift, 6, "gaps of +1 and -5 do not cancel out");
    }

    #[test]
    fn a_chat_whose_entries_took_another_amount_is_reported_with_its_author() {
        let report = audit_of(
            vec![totals(1, 3900, 3900)],
            vec![chat(10, 1, 100, 100), chat(11, 1, 100, 0)],
        )
        .unwrap();
        assert_eq!(
            report.violations,
            vec![AccountViolation {
                user_id: UserId(1),
                username: "user1".into(),
                violation: LedgerViolation::ChatChargeMismatch {
                    chat_id: 11,
                    tokens_charged: Tokens::new(100),
                    ledger_net: Tokens::ZERO,
                },
            }]
        );
    }

    #[test]
    fn every_broken_invariant_is_reported_with_its_account() {
        let report = audit_of(
            vec![
                totals(1, 3900, 3900),
                totals(2, 3901, 3900),
                totals(3, -5, -5),
            ],
            Vec::new(),
        )
        .unwrap();
        assert!(!report.is_consistent());
        assert_eq!(
            report.violations,
            vec![
                AccountViolation {
                    user_id: UserId(2),
                    username: "user2".into(),
                    violation: LedgerViolation::BalanceMismatch {
                        balance: Tokens::new(3901),
                        entries_sum: Tokens::new(3900),
                    },
                },
                AccountViolation {
                    user_id: UserId(3),
                    username: "user3".into(),
                    violation: LedgerViolation::NegativeBalance(Tokens::new(-5)),
                },
            ]
        );
    }

    #[test]
    fn a_storage_outage_is_an_error_not_a_clean_report() {
        let mut ledger = MockLedgerRepository::new();
        ledger
            .expect_ledger_totals()
            .returning(|| Err(StorageError::Unavailable("down".into())));
        assert_eq!(
            block_on(AuditLedger::new(Arc::new(ledger)).execute()),
            Err(AppError::StorageUnavailable)
        );
    }
}
