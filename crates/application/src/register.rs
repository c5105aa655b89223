//! Sign-up, and the console's `createsuperuser`: a new account with the sign-up grant.

use std::sync::Arc;

use domain::{AccountRole, FieldErrors, PlainPassword, Pricing, Username};
use ports::{Clock, CreatedUser, NewUser, PasswordHasher, UserRepository};

use crate::{
    AppError,
    throttle::{ClientAddress, SignupThrottle},
};

/// Creates accounts: plain users through sign-up (throttled per client address), superusers
/// through `chat-api createsuperuser` (an operator at the console, not throttled).
pub struct Register {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    pricing: Pricing,
    throttle: SignupThrottle,
}

impl Register {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        pricing: Pricing,
        throttle: SignupThrottle,
    ) -> Self {
        Self {
            users,
            hasher,
            clock,
            pricing,
            throttle,
        }
    }

    /// Signs up a plain user from `client`. Valid input counts against `client`'s sign-up limit
    /// before the password is hashed; once the limit is reached, further sign-ups are `Throttled`
    /// before anything is hashed or stored.
    pub async fn sign_up(
        &self,
        username: &str,
        password: &str,
        client: ClientAddress,
    ) -> Result<domain::User, AppError> {
        let (username, password) = validate(username, password)?;
        self.throttle
            .attempt(client, self.create(username, password, AccountRole::User))
            .await
    }

    /// Creates a superuser (who may use the admin panel), with the same rules and grant as a
    /// sign-up.
    pub async fn create_superuser(
        &self,
        username: &str,
        password: &str,
    ) -> Result<domain::User, AppError> {
        let (username, password) = validate(username, password)?;
        self.create(username, password, AccountRole::Superuser)
            .await
    }

    /// Hashes the password off the event loop and creates the account with its grant in one
    /// transaction.
    async fn create(
        &self,
        username: Username,
        password: PlainPassword,
        role: AccountRole,
    ) -> Result<domain::User, AppError> {
        let password_hash = self.hasher.hash(&password).await?;
        let new_user = NewUser {
            username,
            password_hash,
            role,
            joined_at: self.clock.now(),
            signup_grant: self.pricing.signup_grant(),
        };
        match self.users.create(new_user).await? {
            CreatedUser::Created(user) => {
                tracing::info!(user_id = user.id.0, ?role, "user registered");
                Ok(user)
            }
            CreatedUser::UsernameTaken => Err(AppError::UsernameTaken),
        }
    }
}

/// Both fields checked against the rules, every problem reported at once.
fn validate(username: &str, password: &str) -> Result<(Username, PlainPassword), AppError> {
    let mut errors = FieldErrors::new();
    let username = errors.check("username", Username::parse(username));
    let password = match &username {
        Some(name) => errors.check("password", PlainPassword::parse(password, name)),
        None => errors.check("password", PlainPassword::for_login(password)),
    };
    match (username, password) {
        (Some(username), Some(password)) => Ok((username, password)),
        _ => Err(AppError::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use domain::Tokens;
    use futures_executor::block_on;
    use mockall::predicate::always;
    use ports::{MockPasswordHasher, MockUserRepository, PasswordHash, StorageError};

    use super::*;
    use crate::test_support::{CLIENT, fixed_clock, full_counters, no_signup_limit, user};

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
            no_signup_limit(),
        )
    }

    /// A sign-up throttle of one attempt per hour whose counter is already full.
    fn exhausted_signup_limit() -> SignupThrottle {
        SignupThrottle::new(
            Arc::new(full_counters()),
            fixed_clock(),
            crate::RateLimit {
                max: 1,
                window: std::time::Duration::from_secs(3600),
            },
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
                    && new.role == AccountRole::User
            })
            .times(1)
            .returning(|_| Ok(CreatedUser::Created(user(1, 4000))));
        let created =
            block_on(register(users, hasher()).sign_up("john_doe", "password123", CLIENT));
        assert_eq!(created.map(|u| u.tokens), Ok(Tokens::new(4000)));
    }

    #[test]
    fn a_taken_username_is_reported_as_such() {
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .returning(|_| Ok(CreatedUser::UsernameTaken));
        let result = block_on(register(users, hasher()).sign_up("john_doe", "password123", CLIENT));
        assert_eq!(result, Err(AppError::UsernameTaken));
    }

    #[test]
    fn invalid_fields_are_all_reported_and_nothing_is_stored() {
        let mut users = MockUserRepository::new();
        users.expect_create().never();
        let mut never_hash = MockPasswordHasher::new();
        never_hash.expect_hash().never();
        let result = block_on(register(users, never_hash).sign_up("bad name", "", CLIENT));
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
        let result = block_on(register(users, never_hash).sign_up("john_doe", "12345678", CLIENT));
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
        let result = block_on(register(users, hasher()).sign_up("john_doe", "password123", CLIENT));
        assert_eq!(result, Err(AppError::StorageUnavailable));
    }

    #[test]
    fn a_throttled_sign_up_creates_and_hashes_nothing() {
        let mut users = MockUserRepository::new();
        users.expect_create().never();
        let mut never_hash = MockPasswordHasher::new();
        never_hash.expect_hash().never();
        let register = Register::new(
            Arc::new(users),
            Arc::new(never_hash),
            fixed_clock(),
            Pricing::DEFAULT,
            exhausted_signup_limit(),
        );
        let result = block_on(register.sign_up("john_doe", "password123", CLIENT));
        assert_eq!(
            result,
            Err(AppError::Throttled {
                retry_after_secs: 3600
            })
        );
    }

    #[test]
    fn invalid_input_is_refused_before_the_sign_up_limit_counts_it() {
        let mut events = ports::MockThrottleRepository::new();
        events.expect_admit().never();
        let throttle = SignupThrottle::new(
            Arc::new(events),
            fixed_clock(),
            crate::RateLimit {
                max: 1,
                window: std::time::Duration::from_secs(3600),
            },
        );
        let register = Register::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(MockPasswordHasher::new()),
            fixed_clock(),
            Pricing::DEFAULT,
            throttle,
        );
        let result = block_on(register.sign_up("john_doe", "short", CLIENT));
        assert!(matches!(result, Err(AppError::Validation(_))), "{result:?}");
    }

    #[test]
    fn a_superuser_is_created_unthrottled_with_the_superuser_role() {
        let mut users = MockUserRepository::new();
        users
            .expect_create()
            .withf(|new| new.role == AccountRole::Superuser)
            .times(1)
            .returning(|_| Ok(CreatedUser::Created(user(1, 4000))));
        let register = Register::new(
            Arc::new(users),
            Arc::new(hasher()),
            fixed_clock(),
            Pricing::DEFAULT,
            exhausted_signup_limit(),
        );
        assert!(block_on(register.create_superuser("root", "admin-password-1")).is_ok());
    }
}
