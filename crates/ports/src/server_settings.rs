//! Values the service generates once and every process must then share (the development JWT
//! secret), kept in storage because storage is the one thing all processes have in common.

use async_trait::async_trait;

use crate::error::StorageError;

/// A write-once key/value store.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ServerSettingsRepository: Send + Sync {
    /// The value stored under `name`, storing `candidate` first if there is none. MUST return the
    /// same value to every caller, however many race to store their own candidate.
    async fn get_or_insert_setting(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<String, StorageError>;
}
