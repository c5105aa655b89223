//! `/token/refresh/`: a refresh token buys a new access token.

use std::sync::Arc;

use ports::{Clock, TokenIssuer, TokenKind};

use crate::{AppError, Authenticate};

/// Issues access tokens for valid refresh tokens of active users.
pub struct RefreshAccess {
    authenticate: Arc<Authenticate>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
}

impl RefreshAccess {
    /// Wires the use case.
    pub fn new(
        authenticate: Arc<Authenticate>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            authenticate,
            tokens,
            clock,
        }
    }

    /// A new access token. The refresh token itself stays valid until it expires (simplejwt's
    /// default, which seed clients rely on).
    pub async fn execute(&self, refresh_token: &str) -> Result<String, AppError> {
        if refresh_token.trim().is_empty() {
            return Err(AppError::invalid_field(
                "refresh",
                "This field may not be blank.",
            ));
        }
        let user = self
            .authenticate
            .user_for(refresh_token, TokenKind::Refresh)
            .await?;
        let access = self
            .tokens
            .issue(user.id, TokenKind::Access, self.clock.now())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(access.token)
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockTokenIssuer, MockUserRepository, TokenError};

    use super::*;
    use crate::test_support::{fixed_clock, issued, noon, user};

    fn refresh_with(verify: Result<ports::Claims, TokenError>) -> RefreshAccess {
        let mut tokens = MockTokenIssuer::new();
        tokens
            .expect_verify()
            .withf(|_, kind, _| *kind == TokenKind::Refresh)
            .return_once(move |_, _, _| verify);
        tokens
            .expect_issue()
            .returning(|id, kind, now| Ok(issued(id, kind, now)));
        let tokens: Arc<dyn TokenIssuer> = Arc::new(tokens);
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_id()
            .returning(|_| Ok(Some(user(1, 0))));
        users
            .expect_refresh_tokens_revoked_before()
            .returning(|_| Ok(None));
        let auth = Arc::new(Authenticate::new(
            Arc::new(users),
            tokens.clone(),
            fixed_clock(),
        ));
        RefreshAccess::new(auth, tokens, fixed_clock())
    }

    #[test]
    fn a_refresh_token_buys_an_access_token() {
        let claims = issued(domain::UserId(1), TokenKind::Refresh, noon()).claims;
        assert_eq!(
            block_on(refresh_with(Ok(claims)).execute("r")),
            Ok("access-1".to_owned())
        );
    }

    #[test]
    fn an_access_token_is_not_a_refresh_token() {
        let result = block_on(refresh_with(Err(TokenError::WrongKind)).execute("a"));
        assert_eq!(result, Err(AppError::TokenInvalid(TokenError::WrongKind)));
    }

    #[test]
    fn a_blank_refresh_token_is_a_validation_error() {
        assert!(matches!(
            block_on(refresh_with(Err(TokenError::Malformed)).execute("")),
            Err(AppError::Validation(_))
        ));
    }
}
