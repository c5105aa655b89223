//! Every SQL statement chat-api runs, written once with diesel's query builder and compiled for
//! each backend: the `*_queries!` macros expand the same functions into [`sqlite`] and
//! [`postgres`], each taking its own concrete connection type. Concrete connections (rather than
//! a `MultiConnection`) give both backends their full diesel API: `BEGIN IMMEDIATE` on SQLite,
//! `ON CONFLICT` and `RETURNING` on both.
//!
//! Each macro expands into a module of its own (`sqlite::chats`, `postgres::chats`, …) that
//! imports exactly what its queries use; the backend module re-exports every group's functions so
//! callers name a query by backend and function only.

mod admin;
mod api_keys;
mod audit;
mod chats;
mod history;
mod security;
mod settings;
mod users;

/// Queries on SQLite connections.
pub mod sqlite {
    super::admin::admin_queries!(diesel::SqliteConnection);
    super::api_keys::api_key_queries!(diesel::SqliteConnection);
    super::audit::audit_queries!(diesel::SqliteConnection);
    super::chats::chat_queries!(diesel::SqliteConnection);
    super::history::history_queries!(diesel::SqliteConnection);
    super::security::security_queries!(diesel::SqliteConnection);
    super::settings::settings_queries!(diesel::SqliteConnection);
    super::users::user_queries!(diesel::SqliteConnection);

    pub use self::{
        admin::*, api_keys::*, audit::*, chats::*, history::*, security::*, settings::*, users::*,
    };
}

/// Queries on PostgreSQL connections.
pub mod postgres {
    super::admin::admin_queries!(diesel::PgConnection);
    super::api_keys::api_key_queries!(diesel::PgConnection);
    super::audit::audit_queries!(diesel::PgConnection);
    super::chats::chat_queries!(diesel::PgConnection);
    super::history::history_queries!(diesel::PgConnection);
    super::security::security_queries!(diesel::PgConnection);
    super::settings::settings_queries!(diesel::PgConnection);
    super::users::user_queries!(diesel::PgConnection);

    pub use self::{
        admin::*, api_keys::*, audit::*, chats::*, history::*, security::*, settings::*, users::*,
    };
}
