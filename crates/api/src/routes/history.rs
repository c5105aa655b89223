//! `/chats/` and `/statement/`: what a user reads about their own account, with DRF-style page
//! links (`count`, `next`, `previous`).

use actix_web::{HttpRequest, HttpResponse, web};
use application::StatementRequest;
use ports::{ChatRecord, StatementEntry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{pages::links, rfc3339};
use crate::{
    extract::CurrentUser, openapi::problems::problems, problem::ApiError, state::AppState,
};

/// `?page=&page_size=`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    page_size: Option<String>,
}

/// One chat in the history.
#[derive(Serialize, ToSchema)]
struct ChatView {
    id: i64,
    message: String,
    response: String,
    /// When the chat was stored.
    #[schema(format = DateTime)]
    timestamp: String,
    tokens_charged: i64,
    /// `completed`, or `interrupted` (a stream whose client left).
    #[schema(value_type = String, pattern = "^(completed|interrupted)$")]
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
#[derive(Serialize, ToSchema)]
struct Paginated<T> {
    /// How many there are in all.
    count: i64,
    /// The next page's URL, if any.
    next: Option<String>,
    /// The previous page's URL, if any.
    previous: Option<String>,
    results: Vec<T>,
}

problems!(
    /// What `GET /chats/` and `GET /statement/` can refuse with.
    HistoryProblems = [
        INVALID_REQUEST,
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        NOT_FOUND,
        STORAGE_UNAVAILABLE,
    ]
);

/// `GET /chats/?page=&page_size=` → the caller's chats, newest first.
#[utoipa::path(
    get,
    path = "/chats/",
    operation_id = "list_chats",
    tag = "history",
    summary = "The caller's chats, newest first",
    security(("Token" = []), ("Bearer" = [])),
    params(
        ("page" = Option<i64>, Query, minimum = 1, nullable = false,
            description = "From 1; a page past the last is `not_found` (page 1 always exists)."),
        ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100, nullable = false,
            description = "Chats per page (default 20)."),
    ),
    responses(
        (status = 200, description = "A page of chats.", body = Paginated<ChatView>),
        HistoryProblems,
    ),
)]
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
#[derive(Serialize, ToSchema)]
struct EntryView {
    id: i64,
    #[schema(format = DateTime)]
    at: String,
    /// What moved the balance (`grant`, `chat_debit`, `refund`, `admin_adjustment`, …).
    #[schema(value_type = String)]
    kind: &'static str,
    /// Tokens added (negative: taken).
    amount: i64,
    reason: String,
    /// The chat it paid for or refunded, if any.
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
/// `opening_balance` plus the entries' amounts is `closing_balance`.
#[derive(Serialize, ToSchema)]
struct StatementView {
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    /// The balance before this page's first entry.
    opening_balance: i64,
    /// Oldest first.
    entries: Vec<EntryView>,
    /// The balance after this page's last entry.
    closing_balance: i64,
    /// How many entries the window has in all.
    count: i64,
    next: Option<String>,
    previous: Option<String>,
}

/// `GET /statement/?from=&to=&page=&page_size=` → the caller's ledger entries in `[from, to)`,
/// oldest first, with the balance before and after them. The page links name `from` and `to`
/// explicitly, so every page covers the same window even when `to` defaulted to "now".
#[utoipa::path(
    get,
    path = "/statement/",
    operation_id = "statement",
    tag = "history",
    summary = "The caller's ledger entries in a window",
    description = "Entries at or after `from` and before `to`, oldest first, with the balance \
        before and after them: `opening_balance` + the amounts = `closing_balance`.",
    security(("Token" = []), ("Bearer" = [])),
    params(
        ("from" = Option<String>, Query, format = DateTime, nullable = false,
            description = "RFC 3339; default: when the account was made. Not after `to`."),
        ("to" = Option<String>, Query, format = DateTime, nullable = false,
            description = "RFC 3339, exclusive; default: now."),
        ("page" = Option<i64>, Query, minimum = 1, nullable = false,
            description = "From 1; a page past the last is `not_found` (page 1 always exists)."),
        ("page_size" = Option<i64>, Query, minimum = 1, maximum = 1000, nullable = false,
            description = "Entries per page (default 100)."),
    ),
    responses(
        (status = 200, description = "The statement.", body = StatementView),
        HistoryProblems,
    ),
)]
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
