//! The admin session cookie, the extractor every admin page uses, and CSRF checks.

use actix_web::{
    FromRequest, HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    dev::Payload,
    web,
};
use application::admin::{AdminIdentity, csrf_matches};
use futures_util::future::LocalBoxFuture;

use super::{AdminPageError, SESSION_TTL, views::Nav};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "chat_admin_session";
/// Name of the login form's CSRF cookie (double submit: no session exists yet).
pub const LOGIN_CSRF_COOKIE: &str = "chat_admin_login_csrf";

/// Whether admin cookies are always `Secure`: outside the development profile they are, so a
/// deployment that forgot to forward the scheme (`X-Forwarded-Proto`) never sends a session
/// cookie over plain HTTP. Registered as app data by the server; absent means development.
#[derive(Debug, Clone, Copy, Default)]
pub struct CookiePolicy {
    /// `Secure` on every admin cookie, whatever the request's scheme.
    pub always_secure: bool,
}

/// A cookie scoped to `/admin/`: HttpOnly (scripts cannot read it), SameSite=Strict (no other
/// site can make the browser send it), Secure when the request came over TLS or the
/// [`CookiePolicy`] says always. `max_age` of `None` deletes it.
pub fn admin_cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let always_secure = req
        .app_data::<web::Data<CookiePolicy>>()
        .is_some_and(|policy| policy.always_secure);
    let mut cookie = Cookie::build(name, value)
        .path("/admin/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(always_secure || req.connection_info().scheme() == "https")
        .finish();
    match max_age {
        Some(seconds) => cookie.set_max_age(CookieDuration::seconds(seconds)),
        None => cookie.make_removal(),
    }
    cookie
}

/// The session cookie for a new session.
pub fn session_cookie(req: &HttpRequest, session_id: String) -> Cookie<'static> {
    let seconds = i64::try_from(SESSION_TTL.as_secs()).unwrap_or(i64::MAX);
    admin_cookie(req, SESSION_COOKIE, session_id, Some(seconds))
}

/// A logged-in superuser. Extracting it from a request without a live session fails with
/// [`AdminPageError::LoginRequired`] (a 303 to the login page), so no admin data is ever
/// rendered to anyone else.
#[derive(Debug, Clone)]
pub struct Admin(pub AdminIdentity);

impl Admin {
    /// What the navigation bar needs (the logout form carries the CSRF token).
    pub fn nav(&self) -> Nav {
        Nav {
            username: self.0.user.username.as_str().to_owned(),
            csrf_token: self.0.csrf_token.clone(),
        }
    }

    /// Refuses a state-changing request whose form does not carry this session's CSRF token
    /// (compared in constant time). Call before anything is changed.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), AdminPageError> {
        if csrf_matches(&self.0.csrf_token, submitted.unwrap_or_default()) {
            Ok(())
        } else {
            tracing::warn!(admin_id = self.0.user.id.0, "admin CSRF check failed");
            Err(AdminPageError::Forbidden(
                "CSRF verification failed. Reload the page and try again.",
            ))
        }
    }
}

impl FromRequest for Admin {
    type Error = AdminPageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session_id = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AdminPageError::Internal("state missing".to_owned()))?;
            let Some(session_id) = session_id else {
                return Err(AdminPageError::LoginRequired);
            };
            match state.admin.auth.resolve(&session_id).await? {
                Some(identity) => {
                    crate::ops::access::identify(&req, identity.user.id);
                    Ok(Self(identity))
                }
                None => Err(AdminPageError::LoginRequired),
            }
        })
    }
}
