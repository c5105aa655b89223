//! [`DieselStorage`] as the revocation and throttle ports.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::{
    BucketUsage, RefreshTokenRecord, RevocationRepository, Rotation, StorageError,
    ThrottleRepository,
};
use uuid::Uuid;

use super::{DieselStorage, dispatch, truncate_to_micros};

#[async_trait]
impl RevocationRepository for DieselStorage {
    async fn is_revoked(&self, jti: Uuid, family: Uuid) -> Result<bool, StorageError> {
        let (jti, family) = (jti.to_string(), family.to_string());
        self.blocking(move |db| dispatch!(db, is_token_revoked(&jti, &family)))
            .await
    }

    async fn rotate_out(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StorageError> {
        let now = truncate_to_micros(now);
        self.blocking(move |db| dispatch!(db, rotate_out(&token, now)))
            .await
    }

    async fn revoke(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = truncate_to_micros(now);
        self.blocking(move |db| dispatch!(db, revoke_refresh(&token, now)))
            .await
    }

    async fn prune_revocations(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let now = truncate_to_micros(now);
        self.blocking(move |db| dispatch!(db, prune_revocations(now)))
            .await
    }
}

#[async_trait]
impl ThrottleRepository for DieselStorage {
    async fn usage(
        &self,
        buckets: Vec<String>,
        since: DateTime<Utc>,
    ) -> Result<Vec<BucketUsage>, StorageError> {
        let since = truncate_to_micros(since);
        let rows = self
            .blocking(move |db| dispatch!(db, throttle_usage(&buckets, since)))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(count, oldest)| BucketUsage {
                count: u64::try_from(count).unwrap_or(0),
                oldest: oldest.map(|at| at.and_utc()),
            })
            .collect())
    }

    async fn record(&self, buckets: Vec<String>, at: DateTime<Utc>) -> Result<(), StorageError> {
        let at = truncate_to_micros(at);
        self.blocking(move |db| dispatch!(db, throttle_record(&buckets, at)))
            .await
    }

    async fn clear(&self, bucket: String) -> Result<(), StorageError> {
        self.blocking(move |db| dispatch!(db, throttle_clear(&bucket)))
            .await
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let before = truncate_to_micros(before);
        self.blocking(move |db| dispatch!(db, throttle_prune(before)))
            .await
    }
}
