//! Turning an `Authorization` credential (an access token or an API key) into the account it
//! belongs to.

use std::sync::Arc;

use chrono::Duration;
use domain::{User, api_key};
use ports::{
    ApiKeyId, ApiKeyRepository, Claims, Clock, TokenError, TokenIssuer, TokenKind, UserRepository,
};

use crate::{AppError, digest::sha256_hex};

/// How precisely a key's last use is recorded: a key in use is written at most once per this
/// interval, so the hot path of a busy key stays one read.
pub const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

/// What a request authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A short-lived access token from a password login (or a refresh).
    AccessToken,
    /// A long-lived API key.
    ApiKey(ApiKeyId),
}

/// An authenticated caller: the active account and the credential it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account, as stored right now.
    pub user: User,
    /// How it proved who it is.
    pub credential: Credential,
}

/// Resolves access tokens and API keys (and, for refresh, refresh tokens) to active users.
pub struct Authenticate {
    users: Arc<dyn UserRepository>,
    keys: Arc<dyn ApiKeyRepository>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        keys: Arc<dyn ApiKeyRepository>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            keys,
            tokens,
            clock,
        }
    }

    /// The caller a bearer credential names: an API key when it starts with
    /// [`api_key::API_KEY_PREFIX`], otherwise an access token (verified first, as before keys
    /// existed, so a JWT costs no more than it did). Either way the account is read once, and a
    /// deactivated account is refused.
    pub async fn caller(&self, credential: &str) -> Result<Caller, AppError> {
        if credential.starts_with(api_key::API_KEY_PREFIX) {
            return self.key_caller(credential).await;
        }
        let user = self.user_for(credential, TokenKind::Access).await?;
        Ok(Caller {
            user,
            credential: Credential::AccessToken,
        })
    }

    /// The caller an API key names: one indexed lookup of the key's SHA-256 with its account.
    /// Expired keys and deactivated accounts are refused; a password reset does not concern keys
    /// (their owner or an admin revokes them). The key's last use is recorded when the recorded
    /// one is over [`LAST_USED_RESOLUTION`] old.
    async fn key_caller(&self, key: &str) -> Result<Caller, AppError> {
        if !api_key::looks_like_api_key(key) {
            return Err(AppError::TokenInvalid(TokenError::Malformed));
        }
        let Some(found) = self.keys.find_api_key(&sha256_hex(key.as_bytes())).await? else {
            return Err(AppError::TokenInvalid(TokenError::UnknownApiKey));
        };
        let now = self.clock.now();
        if !api_key::is_live(found.key.expires_at, now) {
            return Err(AppError::TokenInvalid(TokenError::ApiKeyExpired(
                found.key.id,
            )));
        }
        if !found.user.is_active {
            return Err(AppError::TokenInvalid(TokenError::AccountInactive(
                found.user.id,
            )));
        }
        let stale_before = now - LAST_USED_RESOLUTION;
        if found.key.last_used_at.is_none_or(|at| at < stale_before) {
            // Bookkeeping only: a failure to record the use must not refuse a valid key.
            if let Err(error) = self
                .keys
                .touch_api_key(found.key.id, now, stale_before)
                .await
            {
                tracing::warn!(%error, key = found.key.id.0, "could not record an API key's use");
            }
        }
        Ok(Caller {
            user: found.user,
            credential: Credential::ApiKey(found.key.id),
        })
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
    use ports::{MockApiKeyRepository, MockTokenIssuer, MockUserRepository};

    use super::*;
    use crate::test_support::{fixed_clock, issued, noon, user};

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

    /// No key store: any key lookup fails the test.
    fn no_keys() -> Arc<MockApiKeyRepository> {
        Arc::new(MockApiKeyRepository::new())
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
                    no_keys(),
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
            no_keys(),
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
            no_keys(),
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
            no_keys(),
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
            no_keys(),
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

    const KEY: &str = "cak_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

    fn key_owner(
        user: User,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        last_used: Option<chrono::DateTime<chrono::Utc>>,
    ) -> ports::KeyOwner {
        ports::KeyOwner {
            key: ports::ApiKey {
                id: ApiKeyId(9),
                user_id: user.id,
                name: "ci".into(),
                prefix: "cak_abcdefgh".into(),
                created_at: noon() - Duration::days(1),
                expires_at,
                last_used_at: last_used,
            },
            user,
        }
    }

    /// Authentication by `KEY` against a key store holding `found`, with JWT verification and
    /// user lookups forbidden; `touches` says whether the last use must be written.
    fn by_key(found: Option<ports::KeyOwner>, touches: bool) -> Result<Caller, AppError> {
        let mut keys = MockApiKeyRepository::new();
        keys.expect_find_api_key()
            .withf(|hash| hash == crate::digest::sha256_hex(KEY.as_bytes()))
            .times(1)
            .return_once(move |_| Ok(found));
        keys.expect_touch_api_key()
            .withf(|id, now, stale_before| {
                *id == ApiKeyId(9)
                    && *now == noon()
                    && *stale_before == noon() - LAST_USED_RESOLUTION
            })
            .times(usize::from(touches))
            .returning(|_, _, _| Ok(true));
        let mut tokens = MockTokenIssuer::new();
        tokens.expect_verify().never();
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().never();
        let auth = Authenticate::new(
            Arc::new(users),
            Arc::new(keys),
            Arc::new(tokens),
            fixed_clock(),
        );
        block_on(auth.caller(KEY))
    }

    #[test]
    fn a_live_key_of_an_active_user_is_its_caller_whatever_its_credentials_version() {
        let owner = user_at(7);
        let caller = by_key(Some(key_owner(owner.clone(), None, None)), true);
        assert_eq!(
            caller,
            Ok(Caller {
                user: owner,
                credential: Credential::ApiKey(ApiKeyId(9))
            })
        );
    }

    #[test]
    fn a_keys_last_use_is_written_only_once_it_is_a_minute_old() {
        let fresh = noon() - LAST_USED_RESOLUTION;
        assert!(by_key(Some(key_owner(user(1, 10), None, Some(fresh))), false).is_ok());
        let stale = fresh - Duration::microseconds(1);
        assert!(by_key(Some(key_owner(user(1, 10), None, Some(stale))), true).is_ok());
    }

    #[test]
    fn a_failure_to_record_the_use_does_not_refuse_the_key() {
        let mut keys = MockApiKeyRepository::new();
        keys.expect_find_api_key()
            .return_once(|_| Ok(Some(key_owner(user(1, 10), None, None))));
        keys.expect_touch_api_key()
            .returning(|_, _, _| Err(ports::StorageError::Unavailable("locked".into())));
        let auth = Authenticate::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(keys),
            Arc::new(MockTokenIssuer::new()),
            fixed_clock(),
        );
        assert!(block_on(auth.caller(KEY)).is_ok());
    }

    #[test]
    fn unknown_expired_and_deactivated_users_keys_are_refused_saying_why() {
        assert_eq!(
            by_key(None, false),
            Err(AppError::TokenInvalid(TokenError::UnknownApiKey))
        );
        assert_eq!(
            by_key(Some(key_owner(user(1, 10), Some(noon()), None)), false),
            Err(AppError::TokenInvalid(TokenError::ApiKeyExpired(ApiKeyId(
                9
            ))))
        );
        let mut inactive = user(1, 10);
        inactive.is_active = false;
        assert_eq!(
            by_key(
                Some(key_owner(
                    inactive,
                    Some(noon() + Duration::seconds(1)),
                    None
                )),
                false
            ),
            Err(AppError::TokenInvalid(TokenError::AccountInactive(
                domain::UserId(1)
            )))
        );
    }

    #[test]
    fn a_key_of_the_wrong_shape_is_refused_without_a_lookup() {
        let mut keys = MockApiKeyRepository::new();
        keys.expect_find_api_key().never();
        let auth = Authenticate::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(keys),
            Arc::new(MockTokenIssuer::new()),
            fixed_clock(),
        );
        for bad in [
            "cak_",
            "cak_short",
            &format!("{KEY}x"),
            &KEY.replace('b', "!"),
        ] {
            assert_eq!(
                block_on(auth.caller(bad)),
                Err(AppError::TokenInvalid(TokenError::Malformed)),
                "{bad}"
            );
        }
    }

    #[test]
    fn anything_else_is_verified_as_an_access_token() {
        let auth = Authenticate::new(
            Arc::new(users_returning(Some(user(1, 10)))),
            no_keys(),
            Arc::new(verifying(Ok(claims()))),
            fixed_clock(),
        );
        assert_eq!(
            block_on(auth.caller("eyJ.a.b")).map(|c| c.credential),
            Ok(Credential::AccessToken)
        );
    }
}
