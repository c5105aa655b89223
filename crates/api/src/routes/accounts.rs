//! `/register/`, `/login/`, `/token/refresh/`.

use actix_web::{HttpResponse, http::header, web};
use domain::FieldErrors;
use serde::Serialize;
use serde_json::json;

use crate::{extract::FormOrJson, problem::ApiError, state::AppState};

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
pub async fn register(
    state: web::Data<AppState>,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = required_strings(&body, ["username", "password"])?;
    state.register.execute(&username, &password, false).await?;
    Ok(no_store(actix_web::http::StatusCode::CREATED)
        .json(json!({"message": "You've been registered"})))
}

/// `POST /login/` → `{"user", "access_token", "refresh_token"}`.
pub async fn login(state: web::Data<AppState>, body: FormOrJson) -> Result<HttpResponse, ApiError> {
    let [username, password] = required_strings(&body, ["username", "password"])?;
    let tokens = state.login.execute(&username, &password).await?;
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

/// `POST /token/refresh/` → `{"access_token"}`.
pub async fn refresh(
    state: web::Data<AppState>,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [refresh] = required_strings(&body, ["refresh"])?;
    let access_token = state.refresh.execute(&refresh).await?;
    Ok(no_store(actix_web::http::StatusCode::OK).json(json!({"access_token": access_token})))
}
