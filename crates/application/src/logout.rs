//! `POST /logout/`: the owner of a refresh token revokes it.

use std::sync::Arc;

use domain::User;
use ports::{Clock, RevocationRepository, TokenError, TokenIssuer, TokenKind};

use crate::{AppError, refresh::revocation_record};

/// Revokes refresh tokens on their owner's request.
pub struct Logout {
    tokens: Arc<dyn TokenIssuer>,
    revocations: Arc<dyn RevocationRepository>,
    clock: Arc<dyn Clock>,
}

impl Logout {
    /// Wires the use case.
    pub fn new(
        tokens: Arc<dyn TokenIssuer>,
        revocations: Arc<dyn RevocationRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            tokens,
            revocations,
            clock,
        }
    }

    /// Revokes `refresh_token` and its family (the login session it came from), so neither it
    /// nor a token rotated from it works again. `user` is the caller, authenticated by an access
    /// token: a refresh token of another account is `TokenInvalid` (401), the same answer as for a
    /// forged one, so logout cannot be used to probe or revoke other people's sessions.
    /// Idempotent: logging out twice succeeds. Access tokens already issued live out their short
    /// lifetime.
    pub async fn execute(&self, user: &User, refresh_token: &str) -> Result<(), AppError> {
        if refresh_token.trim().is_empty() {
            return Err(AppError::invalid_field(
                "refresh",
                "This field may not be blank.",
            ));
        }
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify(refresh_token, TokenKind::Refresh, now)
            .map_err(AppError::TokenInvalid)?;
        if claims.user_id != user.id {
            return Err(AppError::TokenInvalid(TokenError::OtherAccount {
                owner: claims.user_id,
                presenter: user.id,
            }));
        }
        self.revocations
            .revoke(revocation_record(&claims, now), now)
            .await?;
        tracing::info!(user_id = user.id.0, "refresh token revoked by logout");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockRevocationRepository, MockTokenIssuer};

    use super::*;
    use crate::test_support::{fixed_clock, issued, noon, user};

    fn logout(
        verify: Result<ports::Claims, TokenError>,
        revocations: MockRevocationRepository,
    ) -> Logout {
        let mut tokens = MockTokenIssuer::new();
        tokens
            .expect_verify()
            .withf(|_, kind, _| *kind == TokenKind::Refresh)
            .return_once(move |_, _, _| verify);
        Logout::new(Arc::new(tokens), Arc::new(revocations), fixed_clock())
    }

    fn claims_of(user_id: i64) -> ports::Claims {
        issued((&user(user_id, 0)).into(), TokenKind::Refresh, noon()).claims
    }

    #[test]
    fn the_owner_revokes_the_token_and_its_family() {
        let mut revocations = MockRevocationRepository::new();
        revocations
            .expect_revoke()
            .withf(|record, _| record.user_id == domain::UserId(1))
            .times(1)
            .returning(|_, _| Ok(()));
        assert_eq!(
            block_on(logout(Ok(claims_of(1)), revocations).execute(&user(1, 0), "r")),
            Ok(())
        );
    }

    #[test]
    fn another_accounts_token_is_invalid_and_stays_valid() {
        let mut revocations = MockRevocationRepository::new();
        revocations.expect_revoke().never();
        assert_eq!(
            block_on(logout(Ok(claims_of(2)), revocations).execute(&user(1, 0), "r")),
            Err(AppError::TokenInvalid(TokenError::OtherAccount {
                owner: domain::UserId(2),
                presenter: domain::UserId(1),
            }))
        );
    }

    #[test]
    fn an_unverifiable_token_is_invalid_and_a_blank_one_a_validation_error() {
        let mut revocations = MockRevocationRepository::new();
        revocations.expect_revoke().never();
        assert_eq!(
            block_on(logout(Err(TokenError::Expired), revocations).execute(&user(1, 0), "r")),
            Err(AppError::TokenInvalid(TokenError::Expired))
        );
        assert!(matches!(
            block_on(
                logout(Err(TokenError::Malformed), MockRevocationRepository::new())
                    .execute(&user(1, 0), " ")
            ),
            Err(AppError::Validation(_))
        ));
    }
}
