//! Rows as diesel reads and writes them, and their conversion to domain values.
#![allow(missing_docs)]

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::{ChatStatus, Tokens, User, UserId, Username};
use ports::{ApiKey, ApiKeyId, ChatRecord, PasswordHash, UserCredentials};

use super::schema::{
    admin_sessions, api_keys, chat_charges, chats, idempotency_keys, ledger_entries, users,
};

/// A `users` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub tokens: i64,
    pub is_active: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
    pub credentials_version: i64,
}

impl UserRow {
    /// The account, without its hash.
    pub fn into_user(self) -> User {
        User {
            id: UserId(self.id),
            username: Username::from_trusted(self.username),
            tokens: Tokens::new(self.tokens),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            date_joined: self.date_joined.and_utc(),
            credentials_version: self.credentials_version,
        }
    }

    /// The account with its hash.
    pub fn into_credentials(self) -> UserCredentials {
        let password_hash = PasswordHash(self.password_hash.clone());
        UserCredentials {
            user: self.into_user(),
            password_hash,
        }
    }
}

/// A new `users` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub username_skeleton: &'a str,
    pub password_hash: &'a str,
    pub tokens: i64,
    pub is_active: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
}

/// A `chats` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chats)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ChatRow {
    pub id: i64,
    pub user_id: i64,
    pub message: String,
    pub response: String,
    pub timestamp: NaiveDateTime,
    /// Read through its stored name; an unknown name is a deserialization error.
    #[diesel(deserialize_as = String)]
    pub status: ChatStatus,
    pub tokens_charged: i64,
}

impl From<ChatRow> for ChatRecord {
    fn from(row: ChatRow) -> Self {
        ChatRecord {
            id: row.id,
            user_id: UserId(row.user_id),
            message: row.message,
            response: row.response,
            timestamp: row.timestamp.and_utc(),
            status: row.status,
            tokens_charged: Tokens::new(row.tokens_charged),
        }
    }
}

/// A new `chats` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = chats)]
pub struct NewChatRow<'a> {
    pub user_id: i64,
    pub message: &'a str,
    pub response: &'a str,
    pub timestamp: NaiveDateTime,
    pub status: &'a str,
    pub tokens_charged: i64,
}

/// A new `ledger_entries` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = ledger_entries)]
pub struct NewLedgerEntry<'a> {
    pub user_id: i64,
    pub amount: i64,
    pub kind: &'a str,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub actor_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// A new `chat_charges` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = chat_charges)]
pub struct NewChargeRow<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub amount: i64,
    pub status: &'a str,
    pub deadline: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// An `idempotency_keys` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct IdempotencyRow {
    pub user_id: i64,
    pub key: String,
    pub request_fingerprint: String,
    pub charge_id: String,
    pub chat_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Charge states, as stored.
pub mod charge_status {
    /// Price taken, chat not yet stored.
    pub const PENDING: &str = "pending";
    /// Chat stored; the charge is final.
    pub const SETTLED: &str = "settled";
    /// Price given back.
    pub const REFUNDED: &str = "refunded";
}

/// One chat's `tokens_charged` next to what its charge's entries took (check-ledger).
#[derive(Debug, Clone, QueryableByName)]
pub struct ChatLedgerTotalsRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub chat_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub tokens_charged: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub ledger_net: i64,
}

/// One user's balance next to the sum of its ledger (check-ledger).
#[derive(Debug, Clone, QueryableByName)]
pub struct LedgerTotalsRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub balance: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub entries_sum: i64,
}

/// A `ledger_entries` row as the admin panel reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct LedgerRow {
    pub id: i64,
    pub amount: i64,
    pub kind: String,
    pub reason: String,
    pub actor_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
}

/// An `admin_sessions` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AdminSessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// An `api_keys` row, without the secret's hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: ApiKeyId(row.id),
            user_id: UserId(row.user_id),
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.map(|at| at.and_utc()),
            last_used_at: row.last_used_at.map(|at| at.and_utc()),
        }
    }
}

/// A new `api_keys` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKeyRow<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

/// A `ledger_entries` row on a statement, with the chat its charge stored (if any).
#[derive(Debug, Clone, Queryable)]
pub struct StatementRow {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub kind: String,
    pub amount: i64,
    pub reason: String,
    pub chat_id: Option<i64>,
}
