//! The password check shared by every login form (the API's `/login/` and the admin panel's).

use domain::{PlainPassword, User, UsernameKey};
use ports::{PasswordHasher, UserRepository};

use crate::AppError;

/// The user named `username` if `password` is theirs; `None` otherwise. Costs exactly one bcrypt
/// verification either way (a dummy hash stands in for a missing user), so neither the answer nor
/// its timing tells an attacker which usernames exist. Callers add their own conditions (active,
/// superuser) and answer every refusal alike.
pub(crate) async fn user_with_password(
    users: &dyn UserRepository,
    hasher: &dyn PasswordHasher,
    username: &str,
    password: &PlainPassword,
) -> Result<Option<User>, AppError> {
    match users.find_credentials(&UsernameKey::of(username)).await? {
        Some(credentials) => {
            let matches = hasher.verify(password, &credentials.password_hash).await?;
            Ok(matches.then_some(credentials.user))
        }
        None => {
            hasher.verify(password, &hasher.dummy_hash()).await?;
            Ok(None)
        }
    }
}
