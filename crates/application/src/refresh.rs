//! `/token/refresh/`: a refresh token buys a new access token, and with rotation on, a new refresh
//! token that replaces it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ports::{
    Claims, Clock, RefreshTokenRecord, RevocationRepository, Rotation, TokenError, TokenIssuer,
    TokenKind,
};

use crate::{AppError, Authenticate};

/// How long past a token's `exp` its revocation is kept. Covers any sane verification leeway
/// (`auth.leeway_secs` must stay below this), so a revoked token is never forgotten while a
/// verifier could still accept it.
pub const REVOCATION_SLACK: chrono::Duration = chrono::Duration::hours(1);

/// What storage must remember to revoke the token of `claims`: the token until it expires, its
/// family until the newest token the family can have (issued no later than `now`) expires.
pub fn revocation_record(claims: &Claims, now: DateTime<Utc>) -> RefreshTokenRecord {
    let lifetime = claims.expires_at - claims.issued_at;
    RefreshTokenRecord {
        jti: claims.jti,
        family: claims.family,
        user_id: claims.user_id,
        jti_expires_at: claims.expires_at + REVOCATION_SLACK,
        family_expires_at: claims.expires_at.max(now + lifetime) + REVOCATION_SLACK,
    }
}

/// What a refresh hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshedTokens {
    /// A new access token.
    pub access_token: String,
    /// With rotation on: the refresh token replacing the one presented (which no longer works).
    pub refresh_token: Option<String>,
}

/// Issues access tokens for valid, unrevoked refresh tokens of active users.
pub struct RefreshAccess {
    authenticate: Arc<Authenticate>,
    tokens: Arc<dyn TokenIssuer>,
    revocations: Arc<dyn RevocationRepository>,
    clock: Arc<dyn Clock>,
    rotate: bool,
}

impl RefreshAccess {
    /// Wires the use case. `rotate` is `auth.rotate_refresh_tokens`.
    pub fn new(
        authenticate: Arc<Authenticate>,
        tokens: Arc<dyn TokenIssuer>,
        revocations: Arc<dyn RevocationRepository>,
        clock: Arc<dyn Clock>,
        rotate: bool,
    ) -> Self {
        Self {
            authenticate,
            tokens,
            revocations,
            clock,
            rotate,
        }
    }

    /// Without rotation (simplejwt's default, which seed clients rely on) the refresh token stays
    /// valid until it expires or is revoked by logout. With rotation, each refresh token works
    /// once: it is rotated out and replaced by a successor in the same family; presenting a
    /// rotated-out token again means two parties hold it (theft), so the whole family is revoked
    /// and both the thief and the victim must log in again.
    pub async fn execute(&self, refresh_token: &str) -> Result<RefreshedTokens, AppError> {
        if refresh_token.trim().is_empty() {
            return Err(AppError::invalid_field(
                "refresh",
                "This field may not be blank.",
            ));
        }
        let (claims, user) = self
            .authenticate
            .claims_and_user(refresh_token, TokenKind::Refresh)
            .await?;
        let now = self.clock.now();
        let refresh_token = if self.rotate {
            match self
                .revocations
                .rotate_out(revocation_record(&claims, now), now)
                .await?
            {
                Rotation::Rotated => {}
                Rotation::ReuseDetected => {
                    tracing::warn!(
                        user_id = user.id.0,
                        family = %claims.family,
                        "rotated-out refresh token reused; its family is revoked"
                    );
                    return Err(AppError::TokenInvalid(TokenError::Revoked));
                }
                Rotation::Revoked => return Err(AppError::TokenInvalid(TokenError::Revoked)),
            }
            let successor = self
                .tokens
                .issue_refresh_in_family((&user).into(), claims.family, now)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            Some(successor.token)
        } else {
            if self
                .revocations
                .is_revoked(claims.jti, claims.family)
                .await?
            {
                return Err(AppError::TokenInvalid(TokenError::Revoked));
            }
            None
        };
        let access = self
            .tokens
            .issue((&user).into(), TokenKind::Access, now)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(RefreshedTokens {
            access_token: access.token,
            refresh_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use ports::{MockRevocationRepository, MockTokenIssuer, MockUserRepository};

    use super::*;
    use crate::test_support::{fixed_clock, issued, noon, user};

    fn refresh_with(
        verify: Result<Claims, TokenError>,
        revocations: MockRevocationRepository,
        rotate: bool,
    ) -> RefreshAccess {
        let mut tokens = MockTokenIssuer::new();
        tokens
            .expect_verify()
            .withf(|_, kind, _| *kind == TokenKind::Refresh)
            .return_once(move |_, _, _| verify);
        tokens
            .expect_issue()
            .returning(|id, kind, now| Ok(issued(id, kind, now)));
        tokens
            .expect_issue_refresh_in_family()
            .returning(|subject, family, now| {
                let mut token = issued(subject, TokenKind::Refresh, now);
                token.token = format!("rotated-{}", subject.user_id.0);
                token.claims.family = family;
                Ok(token)
            });
        let tokens: Arc<dyn TokenIssuer> = Arc::new(tokens);
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_id()
            .returning(|_| Ok(Some(user(1, 0))));
        let auth = Arc::new(Authenticate::new(
            Arc::new(users),
            Arc::new(ports::MockApiKeyRepository::new()),
            tokens.clone(),
            fixed_clock(),
        ));
        RefreshAccess::new(auth, tokens, Arc::new(revocations), fixed_clock(), rotate)
    }

    fn refresh_claims() -> Claims {
        issued((&user(1, 0)).into(), TokenKind::Refresh, noon()).claims
    }

    fn not_revoked() -> MockRevocationRepository {
        let mut revocations = MockRevocationRepository::new();
        revocations.expect_is_revoked().returning(|_, _| Ok(false));
        revocations.expect_rotate_out().never();
        revocations
    }

    fn rotating(outcome: Rotation) -> MockRevocationRepository {
        let mut revocations = MockRevocationRepository::new();
        revocations
            .expect_rotate_out()
            .times(1)
            .returning(move |_, _| Ok(outcome));
        revocations
    }

    #[test]
    fn without_rotation_a_refresh_token_buys_only_an_access_token() {
        let refreshed =
            block_on(refresh_with(Ok(refresh_claims()), not_revoked(), false).execute("r"));
        assert_eq!(
            refreshed,
            Ok(RefreshedTokens {
                access_token: "access-1".into(),
                refresh_token: None
            })
        );
    }

    #[test]
    fn without_rotation_a_revoked_token_is_invalid() {
        let mut revocations = MockRevocationRepository::new();
        revocations.expect_is_revoked().returning(|_, _| Ok(true));
        let result = block_on(refresh_with(Ok(refresh_claims()), revocations, false).execute("r"));
        assert_eq!(result, Err(AppError::TokenInvalid(TokenError::Revoked)));
    }

    #[test]
    fn with_rotation_a_successor_in_the_same_family_is_issued() {
        let refreshed = block_on(
            refresh_with(Ok(refresh_claims()), rotating(Rotation::Rotated), true).execute("r"),
        );
        assert_eq!(
            refreshed,
            Ok(RefreshedTokens {
                access_token: "access-1".into(),
                refresh_token: Some("rotated-1".into())
            })
        );
    }

    #[test]
    fn with_rotation_reuse_and_revocation_are_invalid() {
        for outcome in [Rotation::ReuseDetected, Rotation::Revoked] {
            let result =
                block_on(refresh_with(Ok(refresh_claims()), rotating(outcome), true).execute("r"));
            assert_eq!(result, Err(AppError::TokenInvalid(TokenError::Revoked)));
        }
    }

    #[test]
    fn the_revocation_record_outlives_every_token_of_the_family() {
        let claims = refresh_claims();
        let later = noon() + chrono::Duration::minutes(3);
        let record = revocation_record(&claims, later);
        assert_eq!(record.jti_expires_at, claims.expires_at + REVOCATION_SLACK);
        assert_eq!(
            record.family_expires_at,
            later + (claims.expires_at - claims.issued_at) + REVOCATION_SLACK
        );
    }

    #[test]
    fn an_access_token_is_not_a_refresh_token() {
        let result = block_on(
            refresh_with(
                Err(TokenError::WrongKind),
                MockRevocationRepository::new(),
                false,
            )
            .execute("a"),
        );
        assert_eq!(result, Err(AppError::TokenInvalid(TokenError::WrongKind)));
    }

    #[test]
    fn a_blank_refresh_token_is_a_validation_error() {
        assert!(matches!(
            block_on(
                refresh_with(
                    Err(TokenError::Malformed),
                    MockRevocationRepository::new(),
                    false
                )
                .execute("")
            ),
            Err(AppError::Validation(_))
        ));
    }
}
