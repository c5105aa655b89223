//! Admin login, sessions and CSRF tokens.
//!
//! A session is a random id (32 bytes from a CSPRNG, base64url) handed to the browser in a cookie;
//! the database stores only its SHA-256, the admin's id, a per-session CSRF token and an expiry.
//! Every request re-reads the session *and* the account, so logging out, deactivating the admin
//! or removing their superuser flag ends admin access at once.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use domain::{PlainPassword, User};
use ports::{
    AdminSessionRepository, Clock, NewAdminSession, PasswordHasher, SecretGenerator, UserRepository,
};
use subtle::ConstantTimeEq;

use super::AdminError;
use crate::{
    credentials::user_with_password,
    digest::sha256_hex,
    throttle::{ClientAddress, LoginThrottle},
};

/// What the browser gets at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedSession {
    /// The secret session id for the cookie. Never stored server-side.
    pub session_id: String,
    /// When the session dies (the cookie's expiry too).
    pub expires_at: DateTime<Utc>,
}

/// A logged-in admin, as every admin page sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    /// The superuser, freshly loaded.
    pub user: User,
    /// The session's CSRF token, to embed in forms and check on every POST.
    pub csrf_token: String,
}

/// Superuser login and session lookup.
pub struct AdminAuth {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn AdminSessionRepository>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    throttle: Arc<LoginThrottle>,
    ttl: Duration,
}

/// The stored form of a session id: its SHA-256 in hex. A database leak then yields no usable
/// session, and lookups by hash need no constant-time comparison (the hash is the key).
pub fn hash_session_id(session_id: &str) -> String {
    sha256_hex(session_id.as_bytes())
}

/// Whether a submitted CSRF token equals the expected one, compared in constant time so response
/// timing reveals nothing about the expected token. An empty expected token never matches.
pub fn csrf_matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

impl AdminAuth {
    /// Wires the use case; sessions live for `ttl`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn AdminSessionRepository>,
        hasher: Arc<dyn PasswordHasher>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        throttle: Arc<LoginThrottle>,
        ttl: Duration,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            secrets,
            clock,
            throttle,
            ttl,
        }
    }

    /// Checks the credentials of a superuser and opens a session. Unknown user, wrong password,
    /// inactive account and a non-superuser all get [`AdminError::InvalidCredentials`] after the
    /// same work (one bcrypt verification), so the form reveals neither which names exist nor
    /// which accounts are admins.
    ///
    /// The same failed-login throttle as the API's `/login/` applies (shared counters, keyed by
    /// username and `client`): a throttled attempt is refused before any password work.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: ClientAddress,
    ) -> Result<StartedSession, AdminError> {
        self.throttle
            .attempt(username, client, self.check_credentials(username, password))
            .await
    }

    /// The credential check behind [`Self::login`], once the throttle has let it through.
    async fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<StartedSession, AdminError> {
        let password =
            PlainPassword::for_login(password).map_err(|_| AdminError::InvalidCredentials)?;
        if username.trim().is_empty() {
            return Err(AdminError::InvalidCredentials);
        }
        let admin = user_with_password(&*self.users, &*self.hasher, username, &password)
            .await?
            .filter(|user| user.is_active && user.is_superuser);
        let admin = admin.ok_or(AdminError::InvalidCredentials)?;
        let now = self.clock.now();
        let expires_at = now
            + chrono::Duration::from_std(self.ttl)
                .map_err(|e| crate::AppError::Internal(e.to_string()))?;
        let session_id = self.secrets.secret();
        self.sessions.delete_expired_sessions(now).await?;
        self.sessions
            .create_session(NewAdminSession {
                id_hash: hash_session_id(&session_id),
                user_id: admin.id,
                csrf_token: self.secrets.secret(),
                created_at: now,
                expires_at,
            })
            .await?;
        tracing::info!(user_id = admin.id.0, "admin logged in");
        Ok(StartedSession {
            session_id,
            expires_at,
        })
    }

    /// A fresh random token for the login form's double-submit CSRF cookie (no session exists
    /// yet to hold one).
    pub fn login_form_token(&self) -> String {
        self.secrets.secret()
    }

    /// The admin a session cookie belongs to: `None` when the session is unknown or expired, or
    /// its account is no longer an active superuser.
    pub async fn resolve(&self, session_id: &str) -> Result<Option<AdminIdentity>, AdminError> {
        if session_id.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some(session) = self
            .sessions
            .find_session(&hash_session_id(session_id), now)
            .await?
        else {
            return Ok(None);
        };
        Ok(match self.users.find_by_id(session.user_id).await? {
            Some(user) if user.is_active && user.is_superuser => Some(AdminIdentity {
                user,
                csrf_token: session.csrf_token,
            }),
            _ => None,
        })
    }

    /// Ends the session server-side; the cookie is then worthless even if kept.
    pub async fn logout(&self, session_id: &str) -> Result<(), AdminError> {
        self.sessions
            .delete_session(&hash_session_id(session_id))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
