//! Login: username and password for an access/refresh token pair.

use std::sync::Arc;

use domain::PlainPassword;
use ports::{Clock, PasswordHasher, TokenIssuer, TokenKind, UserRepository};

use crate::{
    AppError,
    credentials::user_with_password,
    throttle::{ClientAddress, LoginThrottle},
};

/// The tokens a successful login hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginTokens {
    /// The username as stored (what the seed API returns as `user`).
    pub username: String,
    /// Short-lived API credential.
    pub access_token: String,
    /// Long-lived credential for `/token/refresh/`.
    pub refresh_token: String,
}

/// Checks credentials and issues tokens, under the failed-login throttle.
pub struct Login {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    throttle: Arc<LoginThrottle>,
}

impl Login {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        throttle: Arc<LoginThrottle>,
    ) -> Self {
        Self {
            users,
            hasher,
            tokens,
            clock,
            throttle,
        }
    }

    /// Unknown user, wrong password and inactive account all get the same error after the same
    /// amount of work (one bcrypt verification), so neither the answer nor its timing tells an
    /// attacker which usernames exist. Each of those failures counts against the failed-login
    /// limits of `username` and `client`; once one is reached, logins are `Throttled` before any
    /// password is checked.
    pub async fn execute(
        &self,
        username: &str,
        password: &str,
        client: ClientAddress,
    ) -> Result<LoginTokens, AppError> {
        self.throttle
            .attempt(username, client, self.check(username, password))
            .await
    }

    async fn check(&self, username: &str, password: &str) -> Result<LoginTokens, AppError> {
        let password = PlainPassword::for_login(password)
            .map_err(|e| AppError::invalid_field("password", e.message))?;
        if username.trim().is_empty() {
            return Err(AppError::invalid_field(
                "username",
                "This field may not be blank.",
            ));
        }
        let user = user_with_password(&*self.users, &*self.hasher, username, &password)
            .await?
            .filter(|user| user.is_active);
        let user = user.ok_or(AppError::InvalidCredentials)?;
        let now = self.clock.now();
        let access = self
            .tokens
            .issue((&user).into(), TokenKind::Access, now)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let refresh = self
            .tokens
            .issue((&user).into(), TokenKind::Refresh, now)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        tracing::info!(user_id = user.id.0, "user logged in");
        Ok(LoginTokens {
            username: user.username.as_str().to_owned(),
            access_token: access.token,
            refresh_token: refresh.token,
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{
        MockPasswordHasher, MockTokenIssuer, MockUserRepository, PasswordHash, UserCredentials,
    };

    use super::*;
    use crate::test_support::{
        CLIENT, fixed_clock, full_counters, hasher_verifying, issued, no_login_limits, user,
    };

    fn tokens() -> MockTokenIssuer {
        let mut tokens = MockTokenIssuer::new();
        tokens
            .expect_issue()
            .returning(|subject, kind, now| Ok(issued(subject, kind, now)));
        tokens
    }

    fn login(users: MockUserRepository, hasher: MockPasswordHasher) -> Login {
        Login::new(
            Arc::new(users),
            Arc::new(hasher),
            Arc::new(tokens()),
            fixed_clock(),
            no_login_limits(),
        )
    }

    fn users_with(active: bool) -> MockUserRepository {
        let mut found = user(1, 4000);
        found.is_active = active;
        let mut users = MockUserRepository::new();
        let stored = found.clone();
        users.expect_find_credentials().returning(move |key| {
            assert_eq!(
                key.as_str(),
                "user1",
                "lookup must use the case-insensitive key"
            );
            Ok(Some(UserCredentials {
                user: stored.clone(),
                password_hash: PasswordHash("real".into()),
            }))
        });
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(found.clone())));
        users
    }

    #[test]
    fn right_password_gets_both_tokens_and_the_stored_username() {
        let result = block_on(
            login(users_with(true), hasher_verifying("real", true)).execute(
                "USER1",
                "password123",
                CLIENT,
            ),
        );
        let tokens = result.expect("login should succeed");
        assert_eq!(tokens.username, "user1");
        assert_eq!(tokens.access_token, "access-1");
        assert_eq!(tokens.refresh_token, "refresh-1");
    }

    #[test]
    fn wrong_password_is_invalid_credentials() {
        let result = block_on(
            login(users_with(true), hasher_verifying("real", false)).execute(
                "user1",
                "wrong-pass",
                CLIENT,
            ),
        );
        assert_eq!(result, Err(AppError::InvalidCredentials));
    }

    #[test]
    fn unknown_user_still_costs_one_verification_against_the_dummy_hash() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| Ok(None));
        let result = block_on(login(users, hasher_verifying("dummy", true)).execute(
            "ghost",
            "password123",
            CLIENT,
        ));
        assert_eq!(result, Err(AppError::InvalidCredentials));
    }

    #[test]
    fn inactive_user_cannot_log_in_even_with_the_right_password() {
        let result = block_on(
            login(users_with(false), hasher_verifying("real", true)).execute(
                "user1",
                "password123",
                CLIENT,
            ),
        );
        assert_eq!(result, Err(AppError::InvalidCredentials));
    }

    #[test]
    fn blank_fields_are_validation_errors_without_a_lookup() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().never();
        let result =
            block_on(login(users, MockPasswordHasher::new()).execute(" ", "password123", CLIENT));
        assert!(matches!(result, Err(AppError::Validation(_))));
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().never();
        let result = block_on(login(users, MockPasswordHasher::new()).execute("user1", "", CLIENT));
        assert!(matches!(result, Err(AppError::Validation(_))));
    }

    #[test]
    fn a_throttled_login_is_refused_before_any_lookup_or_password_work() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().never();
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().never();
        let throttle = LoginThrottle::new(
            Arc::new(full_counters()),
            fixed_clock(),
            crate::LoginLimits::DEFAULT,
        );
        let login = Login::new(
            Arc::new(users),
            Arc::new(hasher),
            Arc::new(tokens()),
            fixed_clock(),
            Arc::new(throttle),
        );
        let result = block_on(login.execute("user1", "password123", CLIENT));
        assert_eq!(
            result,
            Err(AppError::Throttled {
                retry_after_secs: 900
            })
        );
    }
}
