//! [`DieselStorage`] as the revocation and throttle ports.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::{
    Admission, Attempt, AttemptTicket, RefreshTokenRecord, RevocationRepository, Rotation,
    StorageError, ThrottleRepository,
};
use uuid::Uuid;

use super::{DieselStorage, dispatch, truncate_to_micros};

#[async_trait]
impl RevocationRepository for DieselStorage {
    async fn is_revoked(&self, jti: Uuid, family: Uuid) -> Result<bool, StorageError> {
        let (jti, family) = (jti.to_string(), family.to_string());
        self.read(move |db| dispatch!(db, is_token_revoked(&jti, &family)))
            .await
    }

    async fn rotate_out(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StorageError> {
        let now = truncate_to_micros(now);
        self.write(move |db| dispatch!(db, rotate_out(&token, now)))
            .await
    }

    async fn revoke(
        &self,
        token: RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = truncate_to_micros(now);
        self.write(move |db| dispatch!(db, revoke_refresh(&token, now)))
            .await
    }

    async fn prune_revocations(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let now = truncate_to_micros(now);
        self.write(move |db| dispatch!(db, prune_revocations(now)))
            .await
    }
}

#[async_trait]
impl ThrottleRepository for DieselStorage {
    async fn admit(&self, attempt: Attempt) -> Result<Admission, StorageError> {
        let since = truncate_to_micros(attempt.since);
        let at = truncate_to_micros(attempt.at);
        self.write(move |db| {
            let subject = attempt.subject.as_deref();
            dispatch!(db, throttle_admit(&attempt.buckets, subject, since, at))
        })
        .await
    }

    async fn withdraw(&self, ticket: AttemptTicket) -> Result<(), StorageError> {
        self.write(move |db| dispatch!(db, throttle_withdraw(&ticket.0)))
            .await
    }

    async fn clear(&self, bucket: String) -> Result<(), StorageError> {
        self.write(move |db| dispatch!(db, throttle_clear(&bucket)))
            .await
    }

    async fn clear_subject(&self, subject: String) -> Result<u64, StorageError> {
        self.write(move |db| dispatch!(db, throttle_clear_subject(&subject)))
            .await
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let before = truncate_to_micros(before);
        self.write(move |db| dispatch!(db, throttle_prune(before)))
            .await
    }

    async fn is_known_source(
        &self,
        source: String,
        since: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let since = truncate_to_micros(since);
        self.read(move |db| dispatch!(db, is_known_source(&source, since)))
            .await
    }

    async fn remember_source(&self, source: String, at: DateTime<Utc>) -> Result<(), StorageError> {
        let at = truncate_to_micros(at);
        self.write(move |db| dispatch!(db, remember_source(&source, at)))
            .await
    }

    async fn prune_sources(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let before = truncate_to_micros(before);
        self.write(move |db| dispatch!(db, prune_sources(before)))
            .await
    }
}
