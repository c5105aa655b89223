//! Turning an `Authorization` token into the account it belongs to.

use std::sync::Arc;

use domain::User;
use ports::{Claims, Clock, TokenError, TokenIssuer, TokenKind, UserRepository};

use crate::AppError;

/// Resolves access tokens (and, for refresh, refresh tokens) to active users.
pub struct Authenticate {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            tokens,
            clock,
        }
    }

    /// The active user a valid token of `kind` names. The user is loaded on every call, so
    /// deleting or deactivating an account stops its tokens at once.
    pub async fn user_for(&self, token: &str, kind: TokenKind) -> Result<User, AppError> {
        self.claims_and_user(token, kind)
            .await
            .map(|(_, user)| user)
    }

    /// Like [`Self::user_for`], also returning the verified claims (refresh and logout need the
    /// token's `jti` and family to check or record revocation).
    pub async fn claims_and_user(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<(Claims, User), AppError> {
        let claims = self
            .tokens
            .verify(token, kind, self.clock.now())
            .map_err(AppError::TokenInvalid)?;
        match self.users.find_by_id(claims.user_id).await? {
            Some(user) if user.is_active => Ok((claims, user)),
            _ => Err(AppError::TokenInvalid(TokenError::Malformed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockTokenIssuer, MockUserRepository};

    use super::*;
    use crate::test_support::{fixed_clock, issued, user};

    fn verifying(result: Result<ports::Claims, TokenError>) -> MockTokenIssuer {
        let mut tokens = MockTokenIssuer::new();
        tokens.expect_verify().return_once(move |_, _, _| result);
        tokens
    }

    fn users_returning(found: Option<User>) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().return_once(move |_| Ok(found));
        users
    }

    fn claims() -> ports::Claims {
        issued(
            domain::UserId(1),
            TokenKind::Access,
            crate::test_support::noon(),
        )
        .claims
    }

    #[test]
    fn a_valid_token_of_an_active_user_yields_the_user() {
        let auth = Authenticate::new(
            Arc::new(users_returning(Some(user(1, 10)))),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert_eq!(
            block_on(auth.user_for("t", TokenKind::Access)).map(|u| u.id.0),
            Ok(1)
        );
    }

    #[test]
    fn a_bad_token_is_rejected_without_a_lookup() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().never();
        let auth = Authenticate::new(
            Arc::new(users),
            Arc::new(verifying(Err(TokenError::Expired))),
            fixed_clock(),
        );
        assert_eq!(
            block_on(auth.user_for("t", TokenKind::Access)),
            Err(AppError::TokenInvalid(TokenError::Expired))
        );
    }

    #[test]
    fn a_deleted_or_inactive_user_invalidates_the_token() {
        let auth = Authenticate::new(
            Arc::new(users_returning(None)),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert!(matches!(
            block_on(auth.user_for("t", TokenKind::Access)),
            Err(AppError::TokenInvalid(_))
        ));
        let mut inactive = user(1, 10);
        inactive.is_active = false;
        let auth = Authenticate::new(
            Arc::new(users_returning(Some(inactive))),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert!(matches!(
            block_on(auth.user_for("t", TokenKind::Access)),
            Err(AppError::TokenInvalid(_))
        ));
    }
}
