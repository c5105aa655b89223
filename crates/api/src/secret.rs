//! Where the JWT signing secret comes from (DESIGN.md §5). No published default ever signs tokens:
//! development generates a random secret once and keeps it in the database, shared by every
//! process; other profiles must be given one.

use ports::ServerSettingsRepository;
use rand::{Rng, distr::Alphanumeric};
use secrecy::{ExposeSecret, SecretString};

use crate::settings::Settings;

/// Shortest accepted secret, in bytes (HS256's key size).
pub const MIN_SECRET_BYTES: usize = 32;

const SETTING_NAME: &str = "development_jwt_secret";

/// The secret could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Not development, and none configured.
    #[error(
        "profile {0:?} requires auth.jwt_secret (CHAT_API__AUTH__JWT_SECRET), at least 32 bytes"
    )]
    Missing(String),
    /// Configured but too short to resist brute force.
    #[error("auth.jwt_secret must be at least {MIN_SECRET_BYTES} bytes long")]
    TooShort,
    /// The generated secret could not be stored or read.
    #[error("cannot store the generated development secret: {0}")]
    Storage(#[from] ports::StorageError),
}

/// The secret to sign with.
pub async fn resolve(
    settings: &Settings,
    storage: &dyn ServerSettingsRepository,
) -> Result<SecretString, SecretError> {
    if let Some(secret) = &settings.auth.jwt_secret {
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort);
        }
        return Ok(secret.clone());
    }
    if !settings.is_development() {
        return Err(SecretError::Missing(settings.profile.clone()));
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
