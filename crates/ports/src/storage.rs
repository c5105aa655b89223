//! The one entry point for a storage adapter: every repository port, implemented by one type.
//!
//! The composition root holds an `Arc<dyn Storage>` and hands each use case the narrow port it
//! needs (`Arc<dyn Storage>` coerces to `Arc<dyn UserRepository>` and the others). A team writing
//! its own storage implements the traits below; `Storage` then comes with them.

use crate::{
    AdminRepository, AdminSessionRepository, ApiKeyRepository, ChatRepository, HistoryRepository,
    LedgerRepository, RevocationRepository, ServerSettingsRepository, ThrottleRepository,
    UserRepository,
};

/// Everything chat-api stores. Implemented automatically for any type that implements every
/// repository port.
pub trait Storage:
    UserRepository
    + ChatRepository
    + LedgerRepository
    + RevocationRepository
    + ThrottleRepository
    + AdminRepository
    + AdminSessionRepository
    + ServerSettingsRepository
    + ApiKeyRepository
    + HistoryRepository
{
}

impl<T> Storage for T where
    T: UserRepository
        + ChatRepository
        + LedgerRepository
        + RevocationRepository
        + ThrottleRepository
        + AdminRepository
        + AdminSessionRepository
        + ServerSettingsRepository
        + ApiKeyRepository
        + HistoryRepository
{
}
