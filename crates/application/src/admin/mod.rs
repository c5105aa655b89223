//! Admin operations: what the admin panel at `/admin/` does, as use cases over the
//! ports, so the HTTP layer holds no SQL and every rule here is unit-tested with mocks.
//!
//! - [`session`]: superuser-only login, server-side sessions, CSRF tokens.
//! - [`dashboard`]: the totals on the front page.
//! - [`users`]: the users list, one user's page and the actions on an account.
//! - [`chats`]: the chat history list and one message.
//!
//! Lists are paginated by [`PAGE_SIZE`]; a page below 1 or past the last page is
//! [`AdminError::NotFound`] (as Django's paginator does), except that page 1 of an empty list
//! exists.

pub mod chats;
pub mod dashboard;
pub mod session;
pub mod users;

#[cfg(test)]
mod tests;

use domain::FieldErrors;
use ports::{Page, Window};

use crate::{AppError, throttle::LoginFailure};

pub use chats::{AdminChats, ChatQuery};
pub use dashboard::Dashboard;
pub use session::{AdminAuth, AdminIdentity, StartedSession, csrf_matches};
pub use users::{AdminUsers, Direction, UserDetail};

/// The admin panel's use cases.
pub struct AdminServices {
    /// Login, sessions, logout.
    pub auth: AdminAuth,
    /// The users list, user page and account actions.
    pub users: AdminUsers,
    /// The chat history.
    pub chats: AdminChats,
    /// The dashboard totals.
    pub dashboard: Dashboard,
}

/// Rows per page on every admin list.
pub const PAGE_SIZE: i64 = 25;

/// Why an admin operation did not succeed. The admin panel renders each as an HTML page or a form
/// error; none is a problem+json body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// Login refused: unknown user, wrong password, inactive or not a superuser (one message for
    /// all, so the form does not reveal which accounts are admins).
    #[error("Please enter the correct username and password for a superuser account.")]
    InvalidCredentials,
    /// No such user, chat or page.
    #[error("Not found.")]
    NotFound,
    /// A form field broke a rule; nothing was changed.
    #[error("invalid form")]
    Validation(FieldErrors),
    /// Storage or another shared failure.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<ports::StorageError> for AdminError {
    fn from(error: ports::StorageError) -> Self {
        Self::App(error.into())
    }
}

impl From<ports::HasherError> for AdminError {
    fn from(error: ports::HasherError) -> Self {
        Self::App(error.into())
    }
}

impl LoginFailure for AdminError {
    fn is_wrong_guess(&self) -> bool {
        matches!(self, Self::InvalidCredentials)
    }
}

impl AdminError {
    /// One field's single validation message.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Self::Validation(errors)
    }
}

/// One page of a list, numbered, for rendering "page 2 of 7" and the links around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// This page's rows.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: i64,
    /// How many pages the list has (at least 1).
    pub pages: i64,
    /// How many rows the whole list has.
    pub total: i64,
}

/// The rows of page `page`, or `NotFound` for a page below 1.
pub fn window(page: i64) -> Result<Window, AdminError> {
    if page < 1 {
        return Err(AdminError::NotFound);
    }
    let offset = (page - 1)
        .checked_mul(PAGE_SIZE)
        .ok_or(AdminError::NotFound)?;
    Ok(Window {
        offset,
        limit: PAGE_SIZE,
    })
}

/// Numbers a fetched page; `NotFound` when `page` is past the last page.
pub fn paged<T>(page: i64, rows: Page<T>) -> Result<Paged<T>, AdminError> {
    let pages = ((rows.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if page > pages {
        return Err(AdminError::NotFound);
    }
    Ok(Paged {
        items: rows.items,
        page,
        pages,
        total: rows.total,
    })
}
