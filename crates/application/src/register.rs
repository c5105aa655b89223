//! Sign-up: a new account with the sign-up grant.

use std::sync::Arc;

use domain::{FieldErrors, PlainPassword, Pricing, Username};
use ports::{Clock, CreatedUser, NewUser, PasswordHasher, UserRepository};

use crate::AppError;

/// Creates accounts. Also used by `chat-api createsuperuser`.
pub struct Register {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    pricing: Pricing,
}

impl Register {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        pricing: Pricing,
    ) -> Self {
        Self {
            users,
            hasher,
            clock,
            pricing,
        }
    }

    /// Validates both fields (reporting every problem at once), hashes the password off the event
    /// loop, and creates the account with its grant in one transaction.
    pub async fn execute(
        &self,
        username: &str,
        password: &str,
        is_superuser: bool,
    ) -> Result<domain::User, AppError> {
        let mut errors = FieldErrors::new();
        let username = errors.check("username", Username::parse(username));
        let password = match &username {
            Some(name) => errors.check("password", PlainPassword::parse(password, name)),
            None => errors.check("password", PlainPassword::for_login(password)),
        };
        let (Some(username), Some(password)) = (username, password) else {
            return Err(AppError::Validation(errors));
        };
        let password_hash = self.hasher.hash(&password).await?;
        let new_user = NewUser {
            username,
            password_hash,
            is_superuser,
            joined_at: self.clock.now(),
            signup_grant: self.pricing.signup_grant(),
        };
        match self.users.create(new_user).await? {
            CreatedUser::Created(user) => {
                tracing::info!(user_id = user.id.0, "user registered");
                Ok(user)
            }
            CreatedUser::UsernameTaken => Err(AppError::UsernameTaken),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::Tokens;
    use futures_executor::block_on;
    use mockall::predicate::always;
    use ports::{MockPasswordHasher, MockUserRepository, PasswordHash, StorageError};

    use super::*;
    use crate::test_support::{fixed_clock, user};

    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash("hashed".into())));
        hasher
    }

    fn register(users: MockUserRepository, hasher: MockPasswordHasher) -> Register {
        Register::new(
            Arc::new(users),
            Arc::new(hasher),
            fixed_clock(),
            Pricing::DEFAULT,
        )
    }

    #[test]
    fn creates_the_user_with_the_configured_grant_and_hashed_password() {
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .withf(|new| {
                new.username.as_str() == "john_doe"
                    && new.password_hash == PasswordHash("hashed".into())
                    && new.signup_grant == Tokens::new(4000)
                    && !new.is_superuser
            })
            .times(1)
            .returning(|_| Ok(CreatedUser::Created(user(1, 4000))));
        let created = block_on(register(users, hasher()).execute("john_doe", "password123", false));
        assert_eq!(created.map(|u| u.tokens), Ok(Tokens::new(4000)));
    }

    #[test]
    fn a_taken_username_is_reported_as_such() {
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .returning(|_| Ok(CreatedUser::UsernameTaken));
        let result = block_on(register(users, hasher()).execute("john_doe", "password123", false));
        assert_eq!(result, Err(AppError::UsernameTaken));
    }

    #[test]
    fn invalid_fields_are_all_reported_and_nothing_is_stored() {
        let mut users = MockUserRepository::new();
        users.expect_create().never();
        let mut never_hash = MockPasswordHasher::new();
        never_hash.expect_hash().never();
        let result = block_on(register(users, never_hash).execute("bad name", "", false));
        let Err(AppError::Validation(errors)) = result else {
            panic!("expected validation error")
        };
        assert!(errors.fields().contains_key("username"));
        assert!(errors.fields().contains_key("password"));
    }

    #[test]
    fn a_weak_password_is_rejected_before_hashing() {
        let mut users = MockUserRepository::new();
        users.expect_create().never();
        let mut never_hash = MockPasswordHasher::new();
        never_hash.expect_hash().never();
        let result = block_on(register(users, never_hash).execute("john_doe", "12345678", false));
        assert!(
            matches!(result, Err(AppError::Validation(e)) if e.fields().contains_key("password"))
        );
    }

    #[test]
    fn storage_outage_becomes_unavailable() {
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .with(always())
            .returning(|_| Err(StorageError::Unavailable("down".into())));
        let result = block_on(register(users, hasher()).execute("john_doe", "password123", false));
        assert_eq!(result, Err(AppError::StorageUnavailable));
    }
}
