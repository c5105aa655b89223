//! bcrypt, run on a [`CpuPool`] of its own: at cost 12 one hash takes ~250 ms of CPU, which would
//! stall every request sharing an event-loop thread, and run unbounded on tokio's blocking pool it
//! starved the database work that shares that pool.

use async_trait::async_trait;
use domain::PlainPassword;
use ports::{HasherError, PasswordHash, PasswordHasher};
use rand::{Rng, distr::Alphanumeric};

use super::cpu_pool::CpuPool;

/// bcrypt with a configured cost.
#[derive(Debug, Clone)]
pub struct BcryptHasher {
    cost: u32,
    dummy_hash: PasswordHash,
    pool: CpuPool,
}

impl BcryptHasher {
    /// The work factors bcrypt accepts (each step doubles the time one hash takes).
    pub const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

    /// Prepares a hasher whose hashes run at most one per CPU core at a time; computes the dummy
    /// hash once, at the same cost as real hashes, so that verifying against it costs what
    /// verifying a real user's hash costs.
    pub fn new(cost: u32) -> Result<Self, HasherError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(cost, cores)
    }

    /// Like [`Self::new`], with at most `threads` hashes at a time.
    pub fn with_threads(cost: u32, threads: usize) -> Result<Self, HasherError> {
        let pool = CpuPool::new("bcrypt", threads).map_err(|e| HasherError(e.to_string()))?;
        let secret: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let dummy = bcrypt::hash(secret, cost).map_err(|e| HasherError(e.to_string()))?;
        Ok(Self {
            cost,
            dummy_hash: PasswordHash(dummy),
            pool,
        })
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, HasherError> {
        let (password, cost) = (password.expose().to_owned(), self.cost);
        self.pool
            .run(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| HasherError(e.to_string()))?
            .map(PasswordHash)
            .map_err(|e| HasherError(e.to_string()))
    }

    async fn verify(
        &self,
        password: &PlainPassword,
        hash: &PasswordHash,
    ) -> Result<bool, HasherError> {
        let (password, hash) = (password.expose().to_owned(), hash.0.clone());
        self.pool
            .run(move || bcrypt::verify(password, &hash))
            .await
            .map_err(|e| HasherError(e.to_string()))?
            .map_err(|e| HasherError(e.to_string()))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy_hash.clone()
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        stored_cost(&hash.0) != Some(self.cost)
    }
}

/// The cost a bcrypt hash was made with (`$2b$12$…` → 12); `None` for anything else.
fn stored_cost(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some("2a" | "2b" | "2x" | "2y"), Some(cost)) if cost.len() == 2 => {
            cost.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use domain::Username;

    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = BcryptHasher::new(4).unwrap();
        let name = Username::from_trusted("john".into());
        let password = PlainPassword::parse("password123", &name).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.0.starts_with("$2b$04$"),
            "cost must come from configuration"
        );
        assert!(hasher.verify(&password, &hash).await.unwrap());
        let wrong = PlainPassword::for_login("password124").unwrap();
        assert!(!hasher.verify(&wrong, &hash).await.unwrap());
        assert!(
            !hasher
                .verify(&password, &hasher.dummy_hash())
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_documented_cost_range_is_the_one_bcrypt_enforces() {
        let (min, max) = (*BcryptHasher::COSTS.start(), *BcryptHasher::COSTS.end());
        assert!(BcryptHasher::new(min).is_ok());
        assert!(BcryptHasher::new(min - 1).is_err());
        assert!(bcrypt::hash("x", max + 1).is_err());
    }

    #[tokio::test]
    async fn a_hash_of_another_cost_needs_rehashing_and_one_of_the_configured_cost_does_not() {
        let (cheap, dearer) = (BcryptHasher::new(4).unwrap(), BcryptHasher::new(5).unwrap());
        let password = PlainPassword::for_login("password123").unwrap();
        let hash = cheap.hash(&password).await.unwrap();
        assert!(!cheap.needs_rehash(&hash));
        assert!(dearer.needs_rehash(&hash));
        assert!(!dearer.needs_rehash(&dearer.dummy_hash()));
        assert!(cheap.needs_rehash(&PasswordHash("not-a-hash".into())));
        assert_eq!(stored_cost("$2y$10$abc"), Some(10));
        assert_eq!(stored_cost("$2b$1$abc"), None);
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hasher = BcryptHasher::new(4).unwrap();
        let password = PlainPassword::for_login("password123").unwrap();
        assert!(
            hasher
                .verify(&password, &PasswordHash("not-a-hash".into()))
                .await
                .is_err()
        );
    }
}
