//! [`DieselStorage`] as the API key and history ports: what a user manages and reads about their
//! own account.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{LedgerEntryKind, Tokens, UserId};
use ports::{
    ApiKey, ApiKeyId, ApiKeyRepository, ChatRecord, CreatedApiKey, HistoryRepository, KeyOwner,
    NewApiKey, Page, StatementEntry, StatementPage, StatementQuery, StorageError, Window,
};

use super::{DieselStorage, dispatch, models::StatementRow, truncate_to_micros};

#[async_trait]
impl ApiKeyRepository for DieselStorage {
    async fn create_api_key(
        &self,
        mut key: NewApiKey,
        live_limit: u32,
    ) -> Result<CreatedApiKey, StorageError> {
        key.created_at = truncate_to_micros(key.created_at).and_utc();
        key.expires_at = key.expires_at.map(|at| truncate_to_micros(at).and_utc());
        self.write(move |db| dispatch!(db, create_api_key(&key, live_limit)))
            .await
    }

    async fn list_api_keys(&self, user_id: UserId) -> Result<Vec<ApiKey>, StorageError> {
        self.read(move |db| dispatch!(db, list_api_keys(user_id)))
            .await
    }

    async fn revoke_api_key(&self, user_id: UserId, id: ApiKeyId) -> Result<bool, StorageError> {
        self.write(move |db| dispatch!(db, revoke_api_key(user_id, id)))
            .await
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<KeyOwner>, StorageError> {
        let secret_hash = secret_hash.to_owned();
        self.read(move |db| dispatch!(db, find_api_key(&secret_hash)))
            .await
    }

    async fn touch_api_key(
        &self,
        id: ApiKeyId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let (now, stale_before) = (truncate_to_micros(now), truncate_to_micros(stale_before));
        self.write(move |db| dispatch!(db, touch_api_key(id, now, stale_before)))
            .await
    }
}

#[async_trait]
impl HistoryRepository for DieselStorage {
    async fn chat_history(
        &self,
        user_id: UserId,
        window: Window,
    ) -> Result<Page<ChatRecord>, StorageError> {
        let (rows, total) = self
            .read(move |db| dispatch!(db, chat_history(user_id, window.offset, window.limit)))
            .await?;
        Ok(Page {
            items: rows.into_iter().map(ChatRecord::from).collect(),
            total,
        })
    }

    async fn statement(&self, query: StatementQuery) -> Result<StatementPage, StorageError> {
        let from = truncate_to_micros(query.from);
        let to = truncate_to_micros(query.to);
        let (rows, total, before) = self
            .read(move |db| {
                dispatch!(
                    db,
                    statement(
                        query.user_id,
                        from,
                        to,
                        query.window.offset,
                        query.window.limit
                    )
                )
            })
            .await?;
        Ok(StatementPage {
            opening_balance: Tokens::new(before),
            entries: rows
                .into_iter()
                .map(statement_entry)
                .collect::<Result<_, _>>()?,
            total,
        })
    }
}

fn statement_entry(row: StatementRow) -> Result<StatementEntry, StorageError> {
    let kind = row
        .kind
        .parse::<LedgerEntryKind>()
        .map_err(|e| StorageError::Internal(e.to_string()))?;
    Ok(StatementEntry {
        id: row.id,
        at: row.created_at.and_utc(),
        kind,
        amount: Tokens::new(row.amount),
        reason: row.reason,
        chat_id: row.chat_id,
    })
}
