//! `/register/`, `/login/`, `/token/refresh/`, `/logout/`.

use actix_web::{HttpResponse, http::header, web};
use domain::FieldErrors;
use serde::Serialize;
use serde_json::json;

use crate::{
    extract::{ClientIp, CurrentUser, FormOrJson},
    problem::ApiError,
    state::AppState,
};

/// Reads the named string fields, or fails with every missing or mistyped one.
pub(super) fn required_strings<const N: usize>(
    body: &FormOrJson,
    names: [&str; N],
) -> Result<[String; N], ApiError> {
    let mut errors = FieldErrors::new();
    let values = names.map(|name| body.string(name, &mut errors).unwrap_or_default());
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(application::AppError::Validation(errors).into())
    }
}

/// Credentials and tokens must never sit in a cache.
fn no_store(status: actix_web::http::StatusCode) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// `POST /register/` → 201 `{"message": "You've been registered"}`.
/// Throttled per client IP (`throttle.signup_per_ip`).
pub async fn register(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = required_strings(&body, ["username", "password"])?;
    state
        .register
        .sign_up(&username, &password, ip.into())
        .await?;
    Ok(no_store(actix_web::http::StatusCode::CREATED)
        .json(json!({"message": "You've been registered"})))
}

/// `POST /login/` → `{"user", "access_token", "refresh_token"}`.
/// Throttled per (username, IP), username and IP; a throttled attempt is refused before the
/// password is checked.
pub async fn login(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = required_strings(&body, ["username", "password"])?;
    let tokens = state.login.execute(&username, &password, ip.into()).await?;
    Ok(
        no_store(actix_web::http::StatusCode::OK).json(LoginResponse {
            user: tokens.username,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }),
    )
}

/// The seed's login body, fields in the seed's order.
#[derive(Serialize)]
struct LoginResponse {
    user: String,
    access_token: String,
    refresh_token: String,
}

/// `POST /token/refresh/` → `{"access_token"}`, plus `"refresh_token"` when
/// `auth.rotate_refresh_tokens` is on.
pub async fn refresh(
    state: web::Data<AppState>,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [refresh] = required_strings(&body, ["refresh"])?;
    let refreshed = state.refresh.execute(&refresh).await?;
    Ok(
        no_store(actix_web::http::StatusCode::OK).json(RefreshResponse {
            access_token: refreshed.access_token,
            refresh_token: refreshed.refresh_token,
        }),
    )
}

/// The seed's refresh body; `refresh_token` only when rotating (old clients ignore it).
#[derive(Serialize)]
struct RefreshResponse {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// `POST /logout/` with access auth and `{"refresh": "<jwt>"}` → 204: the refresh token (and
/// its login session) stops working.
pub async fn logout(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [refresh] = required_strings(&body, ["refresh"])?;
    state.logout.execute(&user, &refresh).await?;
    Ok(no_store(actix_web::http::StatusCode::NO_CONTENT).finish())
}
