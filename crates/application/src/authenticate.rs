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

    /// The active user a valid token of `kind` names. The user is loaded on every call (one
    /// query), so deleting or deactivating an account stops its tokens at once, and the token's
    /// credentials version is compared with the account's on the row just read: a token issued
    /// before a password reset or a deactivation is refused, access and refresh tokens alike, and
    /// reactivating the account revives none of them.
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
        let refused = match self.users.find_by_id(claims.user_id).await? {
            Some(user) if !user.is_active => TokenError::AccountInactive(user.id),
            Some(user) if user.credentials_version != claims.credentials_version => {
                TokenError::CredentialsChanged(user.id)
            }
            Some(user) => return Ok((claims, user)),
            None => TokenError::AccountGone(claims.user_id),
        };
        Err(AppError::TokenInvalid(refused))
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

    fn user_at(version: i64) -> User {
        User {
            credentials_version: version,
            ..user(1, 10)
        }
    }

    #[test]
    fn a_token_of_another_credentials_version_is_refused_whatever_its_kind() {
        for kind in [TokenKind::Access, TokenKind::Refresh] {
            for (account_version, accepted) in [(2, true), (3, false), (1, false)] {
                let subject = ports::TokenSubject {
                    user_id: domain::UserId(1),
                    credentials_version: 2,
                };
                let claims = issued(subject, kind, crate::test_support::noon()).claims;
                let auth = Authenticate::new(
                    Arc::new(users_returning(Some(user_at(account_version)))),
                    Arc::new(verifying(Ok(claims))),
                    fixed_clock(),
                );
                let result = block_on(auth.user_for("t", kind));
                if accepted {
                    assert_eq!(result, Ok(user_at(2)), "{kind:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(AppError::TokenInvalid(TokenError::CredentialsChanged(
                            domain::UserId(1)
                        ))),
                        "{kind:?} against version {account_version}"
                    );
                }
            }
        }
    }

    fn claims() -> ports::Claims {
        issued(
            (&user(1, 10)).into(),
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
