//! [`DieselStorage`] as the admin panel's ports.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{LedgerEntryKind, TokenCounts, Tokens, UserId};
use ports::{
    Adjusted, AdminRepository, AdminSession, AdminSessionRepository, ChatFilter, ChatLine,
    DashboardTotals, LedgerLine, NewAdminSession, Page, PasswordHash, StorageError,
    TokenAdjustment, UserSummary, Window,
};

use super::{DieselStorage, dispatch, models::AdminSessionRow, truncate_to_micros};

fn chat_line((row, username): (super::models::ChatRow, String)) -> ChatLine {
    ChatLine {
        chat: row.into(),
        username,
    }
}

#[async_trait]
impl AdminRepository for DieselStorage {
    async fn dashboard_totals(
        &self,
        today_start: DateTime<Utc>,
    ) -> Result<DashboardTotals, StorageError> {
        let start = today_start.naive_utc();
        self.read(move |db| dispatch!(db, dashboard_totals(start)))
            .await
    }

    async fn list_users(
        &self,
        search: Option<String>,
        window: Window,
    ) -> Result<Page<UserSummary>, StorageError> {
        let (rows, total) = self
            .read(move |db| {
                dispatch!(
                    db,
                    list_users(search.as_deref(), window.offset, window.limit)
                )
            })
            .await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|(row, chats)| UserSummary {
                    user: row.into_user(),
                    chats,
                })
                .collect(),
            total,
        })
    }

    async fn user_ledger(
        &self,
        user_id: UserId,
        limit: i64,
    ) -> Result<Vec<LedgerLine>, StorageError> {
        let (rows, actors) = self
            .read(move |db| dispatch!(db, user_ledger(user_id, limit)))
            .await?;
        rows.into_iter()
            .map(|row| {
                let kind = row
                    .kind
                    .parse::<LedgerEntryKind>()
                    .map_err(|e| StorageError::Internal(e.to_string()))?;
                let actor = row.actor_id.map(|id| {
                    let name = actors
                        .iter()
                        .find(|(actor, _)| *actor == id)
                        .map(|(_, name)| name.clone());
                    (UserId(id), name)
                });
                Ok(LedgerLine {
                    id: row.id,
                    amount: Tokens::new(row.amount),
                    kind,
                    reason: row.reason,
                    actor,
                    usage: row.model.map(|model| {
                        let count = |n: Option<i64>| n.map_or(0, |n| n.max(0).unsigned_abs());
                        let tokens = TokenCounts {
                            prompt: count(row.prompt_tokens),
                            completion: count(row.completion_tokens),
                        };
                        (model, tokens)
                    }),
                    created_at: row.created_at.and_utc(),
                })
            })
            .collect()
    }

    async fn list_chats(
        &self,
        filter: ChatFilter,
        window: Window,
    ) -> Result<Page<ChatLine>, StorageError> {
        let user = filter.user.map(|u| u.0);
        let from = filter.from.map(|t| t.naive_utc());
        let before = filter.before.map(|t| t.naive_utc());
        let (rows, total) = self
            .read(move |db| {
                dispatch!(
                    db,
                    list_chats(user, from, before, window.offset, window.limit)
                )
            })
            .await?;
        Ok(Page {
            items: rows.into_iter().map(chat_line).collect(),
            total,
        })
    }

    async fn find_chat(&self, id: i64) -> Result<Option<ChatLine>, StorageError> {
        let found = self.read(move |db| dispatch!(db, find_chat(id))).await?;
        Ok(found.map(chat_line))
    }

    async fn adjust_tokens(&self, adjustment: TokenAdjustment) -> Result<Adjusted, StorageError> {
        let at = truncate_to_micros(adjustment.at);
        self.write(move |db| dispatch!(db, adjust_tokens(&adjustment, at)))
            .await
    }

    async fn set_active(&self, user_id: UserId, active: bool) -> Result<bool, StorageError> {
        self.write(move |db| dispatch!(db, set_active(user_id, active)))
            .await
    }

    async fn set_password(
        &self,
        user_id: UserId,
        hash: PasswordHash,
    ) -> Result<bool, StorageError> {
        self.write(move |db| dispatch!(db, set_password(user_id, &hash.0)))
            .await
    }
}

#[async_trait]
impl AdminSessionRepository for DieselStorage {
    async fn create_session(&self, session: NewAdminSession) -> Result<(), StorageError> {
        let row = AdminSessionRow {
            id_hash: session.id_hash,
            user_id: session.user_id.0,
            csrf_token: session.csrf_token,
            created_at: truncate_to_micros(session.created_at),
            expires_at: truncate_to_micros(session.expires_at),
        };
        self.write(move |db| dispatch!(db, create_admin_session(&row)))
            .await
    }

    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StorageError> {
        let (id_hash, now) = (id_hash.to_owned(), truncate_to_micros(now));
        let row = self
            .read(move |db| dispatch!(db, find_admin_session(&id_hash, now)))
            .await?;
        Ok(row.map(|row| AdminSession {
            user_id: UserId(row.user_id),
            csrf_token: row.csrf_token,
            expires_at: row.expires_at.and_utc(),
        }))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StorageError> {
        let id_hash = id_hash.to_owned();
        self.write(move |db| dispatch!(db, delete_admin_session(&id_hash)))
            .await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let now = truncate_to_micros(now);
        self.write(move |db| dispatch!(db, delete_expired_admin_sessions(now)))
            .await
    }
}
