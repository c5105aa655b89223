//! `/admin/login/` and `/admin/logout/`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use application::admin::{AdminError, csrf_matches};
use serde::Deserialize;

use super::{
    AdminPageError,
    error::render,
    see_other,
    session::{Admin, LOGIN_CSRF_COOKIE, SESSION_COOKIE, admin_cookie, session_cookie},
    views::LoginPage,
};
use crate::{extract::ClientIp, state::AppState};

/// How long a login form stays submittable.
const LOGIN_CSRF_MAX_AGE: i64 = 60 * 60;

/// The login form's fields; all optional so a missing field is our error message, not actix's.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    csrf_token: Option<String>,
}

/// A form that carries nothing but its CSRF token (logout, lifting a login lock).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf_token: Option<String>,
}

/// Renders the login form with a fresh double-submit CSRF token (cookie + hidden field).
fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    username: String,
    error: Option<String>,
) -> Result<HttpResponse, AdminPageError> {
    let csrf_token = state.admin.auth.login_form_token();
    let cookie = admin_cookie(
        req,
        LOGIN_CSRF_COOKIE,
        csrf_token.clone(),
        Some(LOGIN_CSRF_MAX_AGE),
    );
    let mut response = render(
        status,
        &LoginPage {
            nav: None,
            csrf_token,
            username,
            error,
        },
    )?;
    response
        .add_cookie(&cookie)
        .map_err(|e| AdminPageError::Internal(e.to_string()))?;
    Ok(response)
}

/// `GET /admin/login/`: the form, or the dashboard for an admin already logged in.
pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Option<Admin>,
) -> Result<HttpResponse, AdminPageError> {
    if admin.is_some() {
        return Ok(see_other("/admin/"));
    }
    login_page(&req, &state, StatusCode::OK, String::new(), None)
}

/// `POST /admin/login/`: checks the login CSRF token, then the credentials of a superuser; on
/// success sets the session cookie and redirects to the dashboard, otherwise re-renders the form
/// with one message for every kind of refusal.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AdminPageError> {
    let form = form.into_inner();
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !csrf_matches(&expected, form.csrf_token.as_deref().unwrap_or_default()) {
        return Err(AdminPageError::Forbidden(
            "CSRF verification failed. Reload the login page and try again.",
        ));
    }
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    match state
        .admin
        .auth
        .login(&username, &password, ip.into())
        .await
    {
        Ok(started) => {
            let mut response = see_other("/admin/");
            response
                .add_cookie(&session_cookie(&req, started.session_id))
                .map_err(|e| AdminPageError::Internal(e.to_string()))?;
            response
                .add_removal_cookie(&admin_cookie(&req, LOGIN_CSRF_COOKIE, String::new(), None))
                .map_err(|e| AdminPageError::Internal(e.to_string()))?;
            Ok(response)
        }
        Err(AdminError::InvalidCredentials) => login_page(
            &req,
            &state,
            StatusCode::OK,
            username,
            Some(AdminError::InvalidCredentials.to_string()),
        ),
        Err(other) => Err(other.into()),
    }
}

/// `POST /admin/logout/`: deletes the session server-side and the cookie client-side.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
    admin: Admin,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state.admin.auth.logout(cookie.value()).await?;
    }
    let mut response = see_other("/admin/login/");
    response
        .add_removal_cookie(&admin_cookie(&req, SESSION_COOKIE, String::new(), None))
        .map_err(|e| AdminPageError::Internal(e.to_string()))?;
    Ok(response)
}
