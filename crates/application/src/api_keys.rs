//! `/api-keys/`: a user creates, lists and revokes their long-lived API keys. Every operation
//! needs a login (an access token): a key cannot manage keys, so a leaked key cannot mint more
//! keys, hide among them or revoke its owner's others.

use std::sync::Arc;

use domain::{ApiKeyName, api_key};
use ports::{ApiKey, ApiKeyId, ApiKeyRepository, Clock, CreatedApiKey, NewApiKey, SecretGenerator};

use crate::{
    AppError,
    authenticate::{Caller, Credential},
    digest::sha256_hex,
};

/// A key just created: the stored record and the secret, which is shown this once and never
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// The whole secret (`cak_…`).
    pub secret: String,
}

/// Creating, listing and revoking one's own API keys.
pub struct ApiKeys {
    keys: Arc<dyn ApiKeyRepository>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
}

impl ApiKeys {
    /// Wires the use case.
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            secrets,
            clock,
        }
    }

    /// Creates a key named `name` (empty when absent) that expires after `expires_in_days` days
    /// (never when absent), unless the caller already holds [`api_key::MAX_LIVE_API_KEYS`] live
    /// keys.
    pub async fn create(
        &self,
        caller: &Caller,
        name: Option<&str>,
        expires_in_days: Option<i64>,
    ) -> Result<IssuedApiKey, AppError> {
        logged_in(caller)?;
        let now = self.clock.now();
        let mut errors = domain::FieldErrors::new();
        let name = ApiKeyName::parse(name.unwrap_or_default())
            .map_err(|e| errors.add("name", e.message))
            .ok();
        let expires_at = api_key::expiry(now, expires_in_days)
            .map_err(|e| errors.add("expires_in_days", e.message))
            .ok();
        let (Some(name), Some(expires_at)) = (name, expires_at) else {
            return Err(AppError::Validation(errors));
        };
        let secret = format!("{}{}", api_key::API_KEY_PREFIX, self.secrets.secret());
        if !api_key::looks_like_api_key(&secret) {
            return Err(AppError::Internal(
                "the secret generator made a secret of the wrong shape".into(),
            ));
        }
        let new_key = NewApiKey {
            user_id: caller.user.id,
            name: name.as_str().to_owned(),
            prefix: api_key::display_prefix(&secret),
            secret_hash: sha256_hex(secret.as_bytes()),
            created_at: now,
            expires_at,
        };
        match self
            .keys
            .create_api_key(new_key, api_key::MAX_LIVE_API_KEYS)
            .await?
        {
            CreatedApiKey::Created(key) => {
                tracing::info!(user = caller.user.id.0, key = key.id.0, "API key created");
                Ok(IssuedApiKey { key, secret })
            }
            CreatedApiKey::LimitReached => Err(AppError::TooManyApiKeys {
                limit: api_key::MAX_LIVE_API_KEYS,
            }),
        }
    }

    /// The caller's keys, newest first, without secrets.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<ApiKey>, AppError> {
        logged_in(caller)?;
        Ok(self.keys.list_api_keys(caller.user.id).await?)
    }

    /// Revokes the caller's key `id` (as written in the URL) at once. Another user's key is
    /// `NotFound`, exactly like a key that does not exist or an id that is not a number, so ids
    /// reveal nothing.
    pub async fn revoke(&self, caller: &Caller, id: &str) -> Result<(), AppError> {
        logged_in(caller)?;
        let id = id
            .parse()
            .map(ApiKeyId)
            .map_err(|_| AppError::NotFound("Not found."))?;
        if self.keys.revoke_api_key(caller.user.id, id).await? {
            tracing::info!(user = caller.user.id.0, key = id.0, "API key revoked");
            Ok(())
        } else {
            Err(AppError::NotFound("Not found."))
        }
    }
}

/// Refuses callers that authenticated with an API key.
fn logged_in(caller: &Caller) -> Result<(), AppError> {
    match caller.credential {
        Credential::AccessToken => Ok(()),
        Credential::ApiKey(_) => Err(AppError::LoginRequired),
    }
}

#[cfg(test)]
mod tests;
