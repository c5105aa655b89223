//! Where the JWT signing secret comes from. No published default ever signs tokens: development
//! generates a random secret once and keeps it in the database, shared by every process; other
//! profiles must be given one (checked with the other settings, see
//! [`Settings::configured_jwt_secret`]).

use ports::ServerSettingsRepository;
use rand::{Rng, distr::Alphanumeric};
use secrecy::SecretString;

use crate::settings::{Settings, SettingsError};

/// Shortest accepted secret, in bytes (HS256's key size).
pub const MIN_SECRET_BYTES: usize = 32;

const SETTING_NAME: &str = "development_jwt_secret";

/// The secret could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Configured too short, or missing outside development.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The generated secret could not be stored or read.
    #[error("cannot store the generated development secret")]
    Storage(#[from] ports::StorageError),
}

/// The secret to sign with.
pub async fn resolve(
    settings: &Settings,
    storage: &dyn ServerSettingsRepository,
) -> Result<SecretString, SecretError> {
    if let Some(secret) = settings.configured_jwt_secret()? {
        return Ok(secret.clone());
    }
    let candidate: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    let stored = storage
        .get_or_insert_setting(SETTING_NAME, &candidate)
        .await?;
    tracing::info!("using the generated development JWT secret stored in the database");
    Ok(SecretString::from(stored))
}
