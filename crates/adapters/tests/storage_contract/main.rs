//! The storage contract (`contract_tests::storage`) run against the diesel adapter on each
//! backend, and what only the diesel adapter has: migrations.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod migrations;

use std::sync::Arc;

use adapters::storage::{Database, DatabaseUrl, DieselStorage, PoolSettings};
use contract_tests::storage::StorageFactory;
use ports::Storage;
use test_support::{Backend, TestDatabase};

/// A migrated, empty database and the storage adapter on it.
pub struct Store {
    pub storage: Arc<DieselStorage>,
    database: TestDatabase,
}

pub fn store(backend: Backend) -> Store {
    let database = TestDatabase::create(backend);
    let url = DatabaseUrl::parse(&database.url).unwrap();
    let pool = Database::connect(&url, &PoolSettings::default()).unwrap();
    pool.migrate().unwrap();
    Store {
        storage: Arc::new(DieselStorage::new(pool)),
        database,
    }
}

/// Fresh diesel stores on one backend, for the contract.
struct Diesel(Backend);

impl StorageFactory for Diesel {
    type Guard = TestDatabase;

    async fn create(&self, test: &str) -> Option<(Arc<dyn Storage>, TestDatabase)> {
        if !test_support::available(self.0, test) {
            return None;
        }
        let Store { storage, database } = store(self.0);
        Some((storage, database))
    }
}

mod sqlite {
    contract_tests::storage_tests!(crate::Diesel(test_support::Backend::Sqlite));
}

mod postgres {
    contract_tests::storage_tests!(crate::Diesel(test_support::Backend::Postgres));
}
