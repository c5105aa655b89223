//! A bound on the requests waiting, in one process, for an `Idempotency-Key` another request
//! holds. A waiter holds no pooled database connection (it looks at the key with one short query
//! between pauses), but it holds a task, a socket and a place in the client's patience: a client
//! retrying one key in a tight loop must not pile up waiters without limit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use domain::UserId;

/// Requests allowed to wait on one key at once in one process. Beyond that a duplicate is refused
/// at once (`IdempotencyKeyInProgress`, 409) and may retry later with the same key.
pub const MAX_WAITERS_PER_KEY: usize = 8;

type Key = (UserId, String);

/// How many requests wait on each key now (keys without waiters are absent).
#[derive(Debug, Default)]
pub struct Waiters {
    waiting: Mutex<HashMap<Key, usize>>,
}

impl Waiters {
    /// A place among the waiters of `user`'s `key`, held until the returned slot is dropped;
    /// `None` when [`MAX_WAITERS_PER_KEY`] requests already wait on it.
    pub fn join(self: &Arc<Self>, user: UserId, key: &str) -> Option<WaitSlot> {
        let key = (user, key.to_owned());
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let count = waiting.entry(key.clone()).or_default();
        if *count >= MAX_WAITERS_PER_KEY {
            return None;
        }
        *count += 1;
        Some(WaitSlot {
            waiters: self.clone(),
            key,
        })
    }
}

/// One request's place among a key's waiters; leaving (dropping it) frees the place.
#[derive(Debug)]
pub struct WaitSlot {
    waiters: Arc<Waiters>,
    key: Key,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut waiting = self
            .waiters
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = waiting.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                waiting.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_admits_a_bounded_number_of_waiters_and_frees_places_as_they_leave() {
        let waiters = Arc::new(Waiters::default());
        let mut slots: Vec<WaitSlot> = (0..MAX_WAITERS_PER_KEY)
            .map(|_| waiters.join(UserId(1), "k").expect("a place"))
            .collect();
        assert!(waiters.join(UserId(1), "k").is_none(), "full");
        assert!(waiters.join(UserId(1), "other").is_some(), "per key");
        assert!(waiters.join(UserId(2), "k").is_some(), "per user");
        slots.pop();
        let again = waiters.join(UserId(1), "k");
        assert!(again.is_some(), "a place was freed");
        drop(again);
        drop(slots);
        assert!(
            waiters.waiting.lock().unwrap().is_empty(),
            "no key is remembered without waiters"
        );
    }
}
