use std::sync::Arc;

use chrono::Duration;
use domain::{LedgerEntryKind, UserId};
use futures_executor::block_on;
use ports::{MockHistoryRepository, Page, StatementPage, Window};

use super::*;
use crate::{
    pagination::INVALID_PAGE,
    test_support::{fixed_clock, noon, user},
};

fn entry(id: i64, amount: i64) -> StatementEntry {
    StatementEntry {
        id,
        at: noon(),
        kind: LedgerEntryKind::ChatDebit,
        amount: Tokens::new(amount),
        reason: "chat message".into(),
        chat_id: Some(id),
    }
}

fn answering(page: StatementPage) -> History {
    let mut history = MockHistoryRepository::new();
    history.expect_statement().return_once(move |_| Ok(page));
    History::new(Arc::new(history), fixed_clock())
}

#[test]
fn the_closing_balance_is_the_opening_one_plus_the_entries() {
    let history = answering(StatementPage {
        opening_balance: Tokens::new(4000),
        entries: vec![entry(1, -100), entry(2, 100), entry(3, -250)],
        total: 3,
    });
    let statement = block_on(history.statement(&user(1, 0), StatementRequest::default())).unwrap();
    assert_eq!(statement.opening_balance, Tokens::new(4000));
    assert_eq!(statement.closing_balance, Tokens::new(3750));
    assert_eq!(statement.entries.count, 3);
}

#[test]
fn the_window_defaults_to_the_account_s_creation_until_now() {
    let mut account = user(7, 0);
    account.date_joined = noon() - Duration::days(3);
    let joined = account.date_joined;
    let mut history = MockHistoryRepository::new();
    history
        .expect_statement()
        .withf(move |query| {
            query.user_id == UserId(7)
                && query.from == joined
                && query.to == noon()
                && query.window
                    == Window {
                        offset: 0,
                        limit: 100,
                    }
        })
        .return_once(|_| {
            Ok(StatementPage {
                opening_balance: Tokens::ZERO,
                entries: Vec::new(),
                total: 0,
            })
        });
    let history = History::new(Arc::new(history), fixed_clock());
    let statement = block_on(history.statement(&account, StatementRequest::default())).unwrap();
    assert_eq!((statement.from, statement.to), (joined, noon()));
}

#[test]
fn explicit_instants_in_any_offset_are_read_as_utc() {
    let mut history = MockHistoryRepository::new();
    history
        .expect_statement()
        .withf(|query| {
            query.from == noon() - Duration::hours(2) && query.to == noon() + Duration::hours(1)
        })
        .return_once(|_| {
            Ok(StatementPage {
                opening_balance: Tokens::ZERO,
                entries: Vec::new(),
                total: 0,
            })
        });
    let history = History::new(Arc::new(history), fixed_clock());
    let request = StatementRequest {
        from: Some("2025-01-01T12:00:00+02:00"),
        to: Some("2025-01-01T13:00:00Z"),
        ..StatementRequest::default()
    };
    assert!(block_on(history.statement(&user(1, 0), request)).is_ok());
}

#[test]
fn malformed_or_reversed_windows_are_refused_before_storage_is_asked() {
    let mut history = MockHistoryRepository::new();
    history.expect_statement().never();
    let history = History::new(Arc::new(history), fixed_clock());
    let refused = |request| match block_on(history.statement(&user(1, 0), request)) {
        Err(AppError::Validation(errors)) => errors.fields().keys().cloned().collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let both_bad = StatementRequest {
        from: Some("yesterday"),
        to: Some("2025-13-01T00:00:00Z"),
        page_size: Some("1001"),
        ..StatementRequest::default()
    };
    assert_eq!(refused(both_bad), ["from", "page_size", "to"]);
    let reversed = StatementRequest {
        from: Some("2025-01-02T00:00:00Z"),
        to: Some("2025-01-01T00:00:00Z"),
        ..StatementRequest::default()
    };
    assert_eq!(refused(reversed), ["from"]);
}

#[test]
fn a_statement_page_past_the_last_is_invalid() {
    let history = answering(StatementPage {
        opening_balance: Tokens::new(10),
        entries: Vec::new(),
        total: 3,
    });
    let request = StatementRequest {
        page: Some("2"),
        page_size: Some("3"),
        ..StatementRequest::default()
    };
    assert_eq!(
        block_on(history.statement(&user(1, 0), request)),
        Err(AppError::NotFound(INVALID_PAGE))
    );
}

#[test]
fn chat_history_pages_are_windows_of_the_user_s_chats() {
    let mut history = MockHistoryRepository::new();
    history
        .expect_chat_history()
        .withf(|user, window| {
            *user == UserId(1)
                && *window
                    == Window {
                        offset: 10,
                        limit: 5,
                    }
        })
        .return_once(|_, _| {
            Ok(Page {
                items: Vec::new(),
                total: 11,
            })
        });
    let history = History::new(Arc::new(history), fixed_clock());
    let page = block_on(history.chats(&user(1, 0), Some("3"), Some("5"))).unwrap();
    assert_eq!(page.count, 11);
    assert!(!page.page.has_next(page.count) && page.page.has_previous());
}
