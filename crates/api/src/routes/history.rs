//! `/chats/` and `/statement/`: what a user reads about their own account, with DRF-style page
//! links (`count`, `next`, `previous`).

use actix_web::{HttpRequest, HttpResponse, web};
use application::StatementRequest;
use ports::{ChatRecord, StatementEntry};
use serde::{Deserialize, Serialize};

use super::{pages::links, rfc3339};
use crate::{extract::CurrentUser, problem::ApiError, state::AppState};

/// `?page=&page_size=`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    page_size: Option<String>,
}

/// One chat in the history.
#[derive(Serialize)]
struct ChatView {
    id: i64,
    message: String,
    response: String,
    timestamp: String,
    tokens_charged: i64,
    status: &'static str,
}

impl From<ChatRecord> for ChatView {
    fn from(chat: ChatRecord) -> Self {
        Self {
            id: chat.id,
            message: chat.message,
            response: chat.response,
            timestamp: rfc3339(chat.timestamp),
            tokens_charged: chat.tokens_charged.get(),
            status: chat.status.as_str(),
        }
    }
}

/// A page of a list, as DRF's `PageNumberPagination` shapes it.
#[derive(Serialize)]
struct Paginated<T> {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<T>,
}

/// `GET /chats/?page=&page_size=` → the caller's chats, newest first.
pub async fn chats(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .history
        .chats(&user, query.page.as_deref(), query.page_size.as_deref())
        .await?;
    let (next, previous) = links(&request, found.page, found.count, &[]);
    Ok(HttpResponse::Ok().json(Paginated {
        count: found.count,
        next,
        previous,
        results: found.items.into_iter().map(ChatView::from).collect(),
    }))
}

/// `?from=&to=&page=&page_size=`.
#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
    page_size: Option<String>,
}

/// One ledger entry on a statement.
#[derive(Serialize)]
struct EntryView {
    id: i64,
    at: String,
    kind: &'static str,
    amount: i64,
    reason: String,
    chat_id: Option<i64>,
}

impl From<StatementEntry> for EntryView {
    fn from(entry: StatementEntry) -> Self {
        Self {
            id: entry.id,
            at: rfc3339(entry.at),
            kind: entry.kind.as_str(),
            amount: entry.amount.get(),
            reason: entry.reason,
            chat_id: entry.chat_id,
        }
    }
}

/// The statement body: the window, the balances around the page, its entries and the page links.
#[derive(Serialize)]
struct StatementView {
    from: String,
    to: String,
    opening_balance: i64,
    entries: Vec<EntryView>,
    closing_balance: i64,
    count: i64,
    next: Option<String>,
    previous: Option<String>,
}

/// `GET /statement/?from=&to=&page=&page_size=` → the caller's ledger entries in `[from, to)`,
/// oldest first, with the balance before and after them. The page links name `from` and `to`
/// explicitly, so every page covers the same window even when `to` defaulted to "now".
pub async fn statement(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    request: HttpRequest,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .history
        .statement(
            &user,
            StatementRequest {
                from: query.from.as_deref(),
                to: query.to.as_deref(),
                page: query.page.as_deref(),
                page_size: query.page_size.as_deref(),
            },
        )
        .await?;
    let (from, to) = (rfc3339(found.from), rfc3339(found.to));
    let pinned = [("from", from.clone()), ("to", to.clone())];
    let (next, previous) = links(&request, found.entries.page, found.entries.count, &pinned);
    Ok(HttpResponse::Ok().json(StatementView {
        from,
        to,
        opening_balance: found.opening_balance.get(),
        entries: found
            .entries
            .items
            .into_iter()
            .map(EntryView::from)
            .collect(),
        closing_balance: found.closing_balance.get(),
        count: found.entries.count,
        next,
        previous,
    }))
}
