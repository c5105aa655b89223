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
    ///
    /// A refresh token is also checked against the account's refresh-token cutoff (set when an
    /// admin resets the password): one issued at or before the cutoff is refused, so a reset logs
    /// out every device holding an old refresh token. JWT `iat` has whole seconds, so a token
    /// issued in the same second as the reset (even just after it) is refused too: the safe side.
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
        let user = match self.users.find_by_id(claims.user_id).await? {
            Some(user) if user.is_active => user,
            Some(_) => {
                return Err(AppError::TokenInvalid(TokenError::AccountInactive(
                    claims.user_id,
                )));
            }
            None => {
                return Err(AppError::TokenInvalid(TokenError::AccountGone(
                    claims.user_id,
                )));
            }
        };
        if kind == TokenKind::Refresh {
            let cutoff = self.users.refresh_tokens_revoked_before(user.id).await?;
            if cutoff.is_some_and(|cutoff| claims.issued_at <= cutoff) {
                return Err(AppError::TokenInvalid(TokenError::IssuedBeforeReset(
                    user.id,
                )));
            }
        }
        Ok((claims, user))
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

    #[test]
    fn a_refresh_token_issued_at_or_before_the_revocation_cutoff_is_refused() {
        let noon = crate::test_support::noon();
        for (cutoff, accepted) in [
            (None, true),
            (Some(noon - chrono::Duration::seconds(1)), true),
            (Some(noon), false),
            (Some(noon + chrono::Duration::seconds(1)), false),
        ] {
            let mut users = users_returning(Some(user(1, 10)));
            users
                .expect_refresh_tokens_revoked_before()
                .return_once(move |_| Ok(cutoff));
            let claims = issued(domain::UserId(1), TokenKind::Refresh, noon).claims;
            let auth = Authenticate::new(
                Arc::new(users),
                Arc::new(verifying(Ok(claims))),
                fixed_clock(),
            );
            let result = block_on(auth.user_for("t", TokenKind::Refresh));
            if accepted {
                assert!(result.is_ok(), "cutoff {cutoff:?}: {result:?}");
            } else {
                assert_eq!(
                    result,
                    Err(AppError::TokenInvalid(TokenError::IssuedBeforeReset(
                        domain::UserId(1)
                    ))),
                    "cutoff {cutoff:?}"
                );
            }
        }
    }

    #[test]
    fn access_tokens_skip_the_refresh_cutoff_lookup() {
        let mut users = users_returning(Some(user(1, 10)));
        users.expect_refresh_tokens_revoked_before().never();
        let auth = Authenticate::new(
            Arc::new(users),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert!(block_on(auth.user_for("t", TokenKind::Access)).is_ok());
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
    fn a_deleted_user_invalidates_the_token_saying_so() {
        let auth = Authenticate::new(
            Arc::new(users_returning(None)),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert_eq!(
            block_on(auth.user_for("t", TokenKind::Access)),
            Err(AppError::TokenInvalid(TokenError::AccountGone(
                domain::UserId(1)
            )))
        );
    }

    #[test]
    fn an_inactive_user_invalidates_the_token_saying_so() {
        let mut inactive = user(1, 10);
        inactive.is_active = false;
        let auth = Authenticate::new(
            Arc::new(users_returning(Some(inactive))),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert_eq!(
            block_on(auth.user_for("t", TokenKind::Access)),
            Err(AppError::TokenInvalid(TokenError::AccountInactive(
                domain::UserId(1)
            )))
        );
    }
}
