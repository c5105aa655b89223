//! The password check shared by every login form (the API's `/login/` and the admin panel's).

use domain::{PlainPassword, User, UsernameKey};
use ports::{PasswordHash, PasswordHasher, UserRepository};

use crate::AppError;

/// The user named `username` if `password` is theirs; `None` otherwise. Costs exactly one bcrypt
/// verification either way (a dummy hash stands in for a missing user), so neither the answer nor
/// its timing tells an attacker which usernames exist. Callers add their own conditions (active,
/// superuser) and answer every refusal alike.
///
/// bcrypt takes a while, and an admin may reset the password or deactivate the account
/// meanwhile: the account is read again after the check, and a login whose credentials version
/// moved on is refused. The user returned carries the version read together with the hash, so
/// tokens issued from it die with any later change too.
///
/// A hash made at another cost than the configured one is replaced by a fresh hash of the same
/// password (the only moment it is known), unless the stored hash changed in between.
pub(crate) async fn user_with_password(
    users: &dyn UserRepository,
    hasher: &dyn PasswordHasher,
    username: &str,
    password: &PlainPassword,
) -> Result<Option<User>, AppError> {
    // No stored username contains a NUL (nor can PostgreSQL text hold one): nothing to look up.
    let found = if username.contains('\0') {
        None
    } else {
        users.find_credentials(&UsernameKey::of(username)).await?
    };
    let Some(credentials) = found else {
        hasher.verify(password, &hasher.dummy_hash()).await?;
        return Ok(None);
    };
    if !hasher.verify(password, &credentials.password_hash).await? {
        return Ok(None);
    }
    let version = credentials.user.credentials_version;
    let Some(current) = users
        .find_by_id(credentials.user.id)
        .await?
        .filter(|current| current.credentials_version == version)
    else {
        tracing::info!(
            user_id = credentials.user.id.0,
            "login refused: credentials changed while it was checked"
        );
        return Ok(None);
    };
    if hasher.needs_rehash(&credentials.password_hash) {
        upgrade_hash(users, hasher, &current, password, credentials.password_hash).await;
    }
    Ok(Some(current))
}

/// Re-hashes `password` at the configured cost in place of `stored`. A failure is logged and
/// leaves the old hash, which still verifies: the next login tries again.
async fn upgrade_hash(
    users: &dyn UserRepository,
    hasher: &dyn PasswordHasher,
    user: &User,
    password: &PlainPassword,
    stored: PasswordHash,
) {
    let upgraded = match hasher.hash(password).await {
        Ok(fresh) => users
            .upgrade_password_hash(user.id, stored, fresh)
            .await
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    match upgraded {
        Ok(true) => tracing::info!(
            user_id = user.id.0,
            "password re-hashed at the configured cost"
        ),
        Ok(false) => {}
        Err(reason) => tracing::warn!(user_id = user.id.0, %reason, "password re-hash failed"),
    }
}

#[cfg(test)]
mod tests;
