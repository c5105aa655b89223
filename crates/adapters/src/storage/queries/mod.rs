//! Every SQL statement chat-api runs, written once with diesel's query builder and compiled for
//! each backend: the `*_queries!` macros expand the same functions into [`sqlite`] and
//! [`postgres`], each taking its own concrete connection type. Concrete connections (rather than
//! a `MultiConnection`) give both backends their full diesel API: `BEGIN IMMEDIATE` on SQLite,
//! `ON CONFLICT` and `RETURNING` on both.

#[macro_use]
mod admin;
#[macro_use]
mod audit;
#[macro_use]
mod chats;
#[macro_use]
mod security;
#[macro_use]
mod settings;
#[macro_use]
mod users;

/// Queries on SQLite connections.
pub mod sqlite {
    use super::prelude::*;
    admin_queries!(diesel::SqliteConnection);
    audit_queries!(diesel::SqliteConnection);
    chat_queries!(diesel::SqliteConnection);
    security_queries!(diesel::SqliteConnection);
    settings_queries!(diesel::SqliteConnection);
    user_queries!(diesel::SqliteConnection);
}

/// Queries on PostgreSQL connections.
pub mod postgres {
    use super::prelude::*;
    admin_queries!(diesel::PgConnection);
    audit_queries!(diesel::PgConnection);
    chat_queries!(diesel::PgConnection);
    security_queries!(diesel::PgConnection);
    settings_queries!(diesel::PgConnection);
    user_queries!(diesel::PgConnection);
}

/// What the query macros refer to, imported once into each backend module.
mod prelude {
    pub use chrono::NaiveDateTime;
    pub use diesel::{prelude::*, result::QueryResult};
    pub use domain::{LedgerEntryKind, Tokens, User, UserId, UsernameKey};
    pub use ports::{Adjusted, TokenAdjustment};
    pub use ports::{
        ChargeId, ChatReservation, CreatedUser, NewUser, Reservation, Settlement, UserCredentials,
    };
    pub use ports::{RefreshTokenRecord, Rotation};
    pub use uuid::Uuid;

    pub use super::admin::escape_like;

    pub use crate::storage::{
        error::is_unique_violation,
        models::*,
        pool::WriteTransaction,
        schema::{
            admin_sessions, chat_charges, chats, idempotency_keys, ledger_entries, server_settings,
            users,
        },
    };
    pub use crate::storage::{
        queries::security::{REASON_LOGOUT, REASON_REUSE_DETECTED, REASON_ROTATED},
        schema::{revoked_token_families, revoked_tokens, throttle_events},
    };
}
