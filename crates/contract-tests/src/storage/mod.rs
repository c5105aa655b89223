//! The storage contract: what every repository port promises (see the doc comments in
//! `crates/ports`), checked through [`ports::Storage`] so one type implementing every port is
//! all an adapter needs to run it.
//!
//! Each `pub async fn` in the modules below is one contract test. It takes a fresh, migrated,
//! empty store and panics if the store breaks its contract. [`crate::storage_tests!`] runs them
//! all against a [`StorageFactory`].

pub mod admin;
pub mod api_keys;
pub mod chats;
mod fixtures;
pub mod history;
pub mod security;
pub mod settings;
pub mod users;

use std::{future::Future, sync::Arc};

use ports::Storage;

pub use fixtures::{
    assert_ledger_consistent, chat_at, create_user, finished_chat, later, new_user, noon,
    reserve_at, settle_at,
};

/// Makes the fresh, empty stores the contract runs on: one per contract test.
pub trait StorageFactory {
    /// Whatever keeps a store's resources alive while its test runs (a temporary database, say);
    /// dropped when the test ends.
    type Guard;

    /// A fresh, empty store, or `None` when this adapter cannot run here, having said so in a
    /// visible skip message naming `test`.
    fn create(&self, test: &str) -> impl Future<Output = Option<(Arc<dyn Storage>, Self::Guard)>>;
}

/// Runs one contract test, named `test`, on a fresh store from `factory`.
pub async fn run<F, C, R>(factory: F, test: &str, contract: C)
where
    F: StorageFactory,
    C: FnOnce(Arc<dyn Storage>) -> R,
    R: Future<Output = ()>,
{
    if let Some((storage, guard)) = factory.create(test).await {
        contract(storage).await;
        drop(guard);
    }
}
