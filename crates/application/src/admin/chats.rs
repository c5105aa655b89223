//! Chat history for admins: every user's messages, newest first, and one message.

use std::sync::Arc;

use chrono::{Days, NaiveDate, NaiveTime};
use ports::{AdminRepository, ChatFilter, ChatLine};

use super::{AdminError, Paged, paged, window};

/// The chat list's filters as the admin enters them: a user and an inclusive range of UTC days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatQuery {
    /// Only this user's chats.
    pub user: Option<domain::UserId>,
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
}

/// Lists and shows chats.
pub struct AdminChats {
    admin: Arc<dyn AdminRepository>,
}

impl AdminChats {
    /// Wires the use case.
    pub fn new(admin: Arc<dyn AdminRepository>) -> Self {
        Self { admin }
    }

    /// Page `page` of the chats matching `query`, newest first. Days are whole UTC days, `to`
    /// included (a chat at 23:59:59 on `to` is listed).
    pub async fn list(&self, query: &ChatQuery, page: i64) -> Result<Paged<ChatLine>, AdminError> {
        let window = window(page)?;
        let before = match query.to {
            Some(to) => Some(
                to.checked_add_days(Days::new(1))
                    .ok_or_else(|| AdminError::invalid_field("to", "Date out of range."))?
                    .and_time(NaiveTime::MIN)
                    .and_utc(),
            ),
            None => None,
        };
        let filter = ChatFilter {
            user: query.user,
            from: query
                .from
                .map(|from| from.and_time(NaiveTime::MIN).and_utc()),
            before,
        };
        paged(page, self.admin.list_chats(filter, window).await?)
    }

    /// One chat, or `NotFound`.
    pub async fn detail(&self, id: i64) -> Result<ChatLine, AdminError> {
        self.admin.find_chat(id).await?.ok_or(AdminError::NotFound)
    }
}

#[cfg(test)]
mod tests;
