//! `/register/`, `/login/`, `/token/refresh/`, `/logout/`. Their routes add `Cache-Control:
//! no-store` to every response (see `auth_route`), so the handlers here do not.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;

use crate::{
    extract::{ClientIp, CurrentUser, FormOrJson},
    problem::ApiError,
    state::AppState,
};

/// `POST /register/` → 201 `{"message": "You've been registered"}`.
/// Throttled per client IP (`throttle.signup_per_ip`).
pub async fn register(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = body.required_strings(["username", "password"])?;
    state
        .register
        .sign_up(&username, &password, ip.into())
        .await?;
    Ok(HttpResponse::Created().json(json!({"message": "You've been registered"})))
}

/// `POST /login/` → `{"user", "access_token", "refresh_token"}`.
/// Throttled per (username, IP), username and IP; a throttled attempt is refused before the
/// password is checked.
pub async fn login(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = body.required_strings(["username", "password"])?;
    let tokens = state.login.execute(&username, &password, ip.into()).await?;
    Ok(HttpResponse::Ok().json(LoginResponse {
        user: tokens.username,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    }))
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
    let [refresh] = body.required_strings(["refresh"])?;
    let refreshed = state.refresh.execute(&refresh).await?;
    Ok(HttpResponse::Ok().json(RefreshResponse {
        access_token: refreshed.access_token,
        refresh_token: refreshed.refresh_token,
    }))
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
    let [refresh] = body.required_strings(["refresh"])?;
    state.logout.execute(&user, &refresh).await?;
    Ok(HttpResponse::NoContent().finish())
}
