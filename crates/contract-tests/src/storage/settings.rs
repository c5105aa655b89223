//! The server settings repository's contract.

use std::sync::Arc;

use ports::Storage;

/// A setting keeps the first value ever stored; later inserts read it back unchanged.
pub async fn a_setting_keeps_its_first_value(storage: Arc<dyn Storage>) {
    assert_eq!(
        storage.get_or_insert_setting("s", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        storage.get_or_insert_setting("s", "second").await.unwrap(),
        "first"
    );
}
