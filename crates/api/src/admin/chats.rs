//! `/admin/chats/` and `/admin/chats/<id>/`.

use actix_web::{HttpResponse, http::StatusCode, web};
use application::admin::ChatQuery;
use chrono::NaiveDate;
use domain::UserId;
use serde::Deserialize;

use super::{
    AdminPageError,
    error::render,
    page_number,
    session::Admin,
    views::{ChatPage, ChatRowView, ChatsPage, Pager, when},
};
use crate::state::AppState;

/// The chat list's query string, as typed (validated below).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// An optional filter value: empty means "no filter".
fn optional(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// A `YYYY-MM-DD` day (what `<input type=date>` sends).
fn day(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, AdminPageError> {
    optional(raw)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                AdminPageError::BadRequest(format!("{field}: enter a date as YYYY-MM-DD."))
            })
        })
        .transpose()
}

/// `GET /admin/chats/?user=&from=&to=&page=`: every chat, newest first.
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminPageError> {
    let page = page_number(query.page.as_deref())?;
    let user = optional(query.user.as_deref())
        .map(|raw| {
            raw.parse().map(UserId).map_err(|_| {
                AdminPageError::BadRequest("user: enter a numeric user id.".to_owned())
            })
        })
        .transpose()?;
    let filter = ChatQuery {
        user,
        from: day("from", query.from.as_deref())?,
        to: day("to", query.to.as_deref())?,
    };
    let paged = state.admin.chats.list(&filter, page).await?;
    let keep = |raw: &Option<String>| optional(raw.as_deref()).unwrap_or_default().to_owned();
    let (user, from, to) = (keep(&query.user), keep(&query.from), keep(&query.to));
    let pager = Pager::new(
        "/admin/chats/",
        &[
            ("user", user.clone()),
            ("from", from.clone()),
            ("to", to.clone()),
        ],
        &paged,
    );
    render(
        StatusCode::OK,
        &ChatsPage {
            nav: Some(admin.nav()),
            user,
            from,
            to,
            rows: paged.items.into_iter().map(ChatRowView::from).collect(),
            pager,
        },
    )
}

/// `GET /admin/chats/<id>/`: one message and its response in full.
pub async fn detail(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminPageError> {
    let id: i64 = path.parse().map_err(|_| AdminPageError::NotFound)?;
    let line = state.admin.chats.detail(id).await?;
    render(
        StatusCode::OK,
        &ChatPage {
            nav: Some(admin.nav()),
            id: line.chat.id,
            when: when(line.chat.timestamp),
            user_id: line.chat.user_id.0,
            username: line.username,
            message: line.chat.message,
            response: line.chat.response,
            status: line.chat.status.as_str(),
            tokens_charged: line.chat.tokens_charged.get(),
        },
    )
}
