//! What a user reads about their own account: `GET /chats/` (their chats, newest first) and
//! `GET /statement/` (their ledger entries in a window, with the balance before and after).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{Tokens, User};
use ports::{ChatRecord, Clock, HistoryRepository, StatementEntry, StatementQuery};

use crate::{
    AppError,
    pagination::{Numbered, PageRequest, PageSizes},
};

/// Page sizes of the chat history.
pub const CHAT_PAGES: PageSizes = PageSizes {
    default: 20,
    max: 100,
};

/// Page sizes of a statement (its entries are small, so pages are longer).
pub const STATEMENT_PAGES: PageSizes = PageSizes {
    default: 100,
    max: 1000,
};

/// A statement request as the client sent it; every part optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatementRequest<'a> {
    /// RFC 3339; entries at or after it. Default: the account's creation.
    pub from: Option<&'a str>,
    /// RFC 3339; entries strictly before it. Default: now.
    pub to: Option<&'a str>,
    /// Which page of the window's entries (from 1).
    pub page: Option<&'a str>,
    /// Entries per page.
    pub page_size: Option<&'a str>,
}

/// One page of a user's ledger in a window: `opening_balance + Σ entries.amount ==
/// closing_balance`, where the opening balance is the balance just before the page's first entry
/// and the closing balance the balance just after its last (on the last page: the balance at
/// `to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The window's start (inclusive).
    pub from: DateTime<Utc>,
    /// The window's end (exclusive).
    pub to: DateTime<Utc>,
    /// The balance before the page's first entry.
    pub opening_balance: Tokens,
    /// The page's entries, oldest first.
    pub entries: Numbered<StatementEntry>,
    /// The balance after the page's last entry.
    pub closing_balance: Tokens,
}

/// Reads a user's own chats and ledger.
pub struct History {
    history: Arc<dyn HistoryRepository>,
    clock: Arc<dyn Clock>,
}

impl History {
    /// Wires the use case.
    pub fn new(history: Arc<dyn HistoryRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { history, clock }
    }

    /// One page of `user`'s chats, newest first.
    pub async fn chats(
        &self,
        user: &User,
        page: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<Numbered<ChatRecord>, AppError> {
        let request = PageRequest::parse(page, page_size, CHAT_PAGES)?;
        let found = self
            .history
            .chat_history(user.id, request.window()?)
            .await?;
        request.check_exists(found.total)?;
        Ok(Numbered {
            items: found.items,
            page: request,
            count: found.total,
        })
    }

    /// One page of `user`'s statement for the window the request names.
    pub async fn statement(
        &self,
        user: &User,
        request: StatementRequest<'_>,
    ) -> Result<Statement, AppError> {
        let mut errors = domain::FieldErrors::new();
        let from = instant("from", request.from, &mut errors);
        let to = instant("to", request.to, &mut errors);
        let page = match PageRequest::parse(request.page, request.page_size, STATEMENT_PAGES) {
            Err(AppError::Validation(page_errors)) => {
                for (field, messages) in page_errors.fields() {
                    messages.iter().for_each(|m| errors.add(field, m.as_str()));
                }
                None
            }
            other => Some(other),
        };
        let (Some(page), true) = (page, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let page = page?;
        let from = from.flatten().unwrap_or(user.date_joined);
        let to = to.flatten().unwrap_or_else(|| self.clock.now());
        if from > to {
            return Err(AppError::invalid_field("from", "Must not be after `to`."));
        }
        let found = self
            .history
            .statement(StatementQuery {
                user_id: user.id,
                from,
                to,
                window: page.window()?,
            })
            .await?;
        page.check_exists(found.total)?;
        let closing_balance = found
            .entries
            .iter()
            .try_fold(found.opening_balance, |sum, entry| {
                sum.checked_add(entry.amount)
            })
            .ok_or_else(|| AppError::Internal("statement sum overflows".into()))?;
        Ok(Statement {
            from,
            to,
            opening_balance: found.opening_balance,
            entries: Numbered {
                items: found.entries,
                page,
                count: found.total,
            },
            closing_balance,
        })
    }
}

/// Parses an optional RFC 3339 instant named `field`, recording a message when it is malformed.
/// `Some(None)`: absent; `None`: malformed.
fn instant(
    field: &str,
    raw: Option<&str>,
    errors: &mut domain::FieldErrors,
) -> Option<Option<DateTime<Utc>>> {
    match raw.map(str::trim) {
        None => Some(None),
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(at) => Some(Some(at.with_timezone(&Utc))),
            Err(_) => {
                errors.add(
                    field,
                    "Datetime has wrong format. Use RFC 3339, e.g. 2025-01-01T00:00:00Z.",
                );
                None
            }
        },
    }
}

#[cfg(test)]
mod tests;
