//! `/register/`, `/login/`, `/token/refresh/`, `/logout/`. Their routes add `Cache-Control:
//! no-store` to every response (see `super::configure`), so the handlers here do not.
//!
//! The request schemas document the fields [`FormOrJson`] reads; the patterns say what every
//! string field must be: no NUL character, and for names and messages not blank.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    extract::{ClientIp, CurrentUser, FormOrJson},
    openapi::problems::problems,
    problem::ApiError,
    state::AppState,
};

/// A new account.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct NewAccount {
    /// 1–150 Unicode letters, digits and `@ . + - _` once trimmed and NFKC-normalised; unique
    /// case-insensitively. (The pattern refuses only what no normalisation makes valid: ASCII
    /// controls and other punctuation, and inner whitespace.)
    #[schema(
        min_length = 1,
        max_length = 150,
        pattern = r"^\s*[^\s\u0000-\u001f!-*,/:-?\[-^`{-\u007f]+\s*$"
    )]
    #[schema(example = "john_doe")]
    username: String,
    /// At least 8 characters and at most 72 bytes of UTF-8, not entirely numeric, not the
    /// username.
    #[schema(
        min_length = 8,
        max_length = 72,
        pattern = r"^[^\u0000]*[^0-9\u0000][^\u0000]*$"
    )]
    #[schema(example = "password123")]
    password: String,
}

/// The registration's answer.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the `json!` body `register` answers.
struct Registered {
    #[schema(example = "You've been registered")]
    message: String,
}

problems!(
    /// What `POST /register/` can refuse with.
    RegisterProblems = [
        INVALID_REQUEST,
        USERNAME_TAKEN,
        CROSS_SITE_REQUEST,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        THROTTLED,
        STORAGE_UNAVAILABLE,
    ]
);

/// `POST /register/` → 201 `{"message": "You've been registered"}`.
/// Throttled per client IP (`throttle.signup_per_ip`).
#[utoipa::path(
    post,
    path = "/register/",
    tag = "accounts",
    summary = "Create an account",
    description = "The account starts with the sign-up grant of tokens (4000 by default). \
        Sign-ups are throttled per client address.",
    request_body(content(
        (NewAccount = "application/json"),
        (NewAccount = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Registered.", body = Registered, links(
            ("login" = (
                operation_id = "login",
                request_body = json!({
                    "username": "$request.body#/username",
                    "password": "$request.body#/password",
                }),
                description = "Log in to the new account.",
            )),
        )),
        RegisterProblems,
    ),
)]
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

/// Credentials to log in with.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct Credentials {
    /// The username, in any case.
    #[schema(min_length = 1, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    #[schema(example = "john_doe")]
    username: String,
    /// The password: at most 72 bytes of UTF-8.
    #[schema(min_length = 1, max_length = 72, pattern = r"^[^\u0000]*$")]
    #[schema(example = "password123")]
    password: String,
}

problems!(
    /// What `POST /login/` can refuse with.
    LoginProblems = [
        INVALID_REQUEST,
        INVALID_CREDENTIALS,
        CROSS_SITE_REQUEST,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        THROTTLED,
        STORAGE_UNAVAILABLE,
    ]
);

/// `POST /login/` → `{"user", "access_token", "refresh_token"}`.
/// Throttled per (username, IP), username and IP; a throttled attempt is refused before the
/// password is checked.
#[utoipa::path(
    post,
    path = "/login/",
    tag = "accounts",
    summary = "Log in",
    description = "Answers an access token (send it as `Authorization: Token <access_token>`) \
        and a refresh token (for `/token/refresh/` and `/logout/`). Failed attempts are \
        throttled per username and per client address.",
    request_body(content(
        (Credentials = "application/json"),
        (Credentials = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Logged in.", body = LoginResponse, links(
            ("refresh" = (
                operation_id = "refresh",
                request_body = json!({"refresh": "$response.body#/refresh_token"}),
                description = "A new access token for this login.",
            )),
            ("logout" = (
                operation_id = "logout",
                request_body = json!({"refresh": "$response.body#/refresh_token"}),
                description = "End this login (with its own access token).",
            )),
        )),
        LoginProblems,
    ),
)]
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
#[derive(Serialize, ToSchema)]
struct LoginResponse {
    /// The username as stored.
    #[schema(example = "john_doe")]
    user: String,
    /// A short-lived JWT for `Authorization: Token <access_token>`.
    access_token: String,
    /// A longer-lived JWT for `/token/refresh/` and `/logout/`.
    refresh_token: String,
}

/// A refresh token, as `/login/` returned it.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct RefreshToken {
    /// The refresh token `/login/` (or a rotating `/token/refresh/`) returned.
    #[schema(min_length = 1, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    refresh: String,
}

problems!(
    /// What `POST /token/refresh/` can refuse with.
    RefreshProblems = [
        INVALID_REQUEST,
        TOKEN_INVALID,
        CROSS_SITE_REQUEST,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        STORAGE_UNAVAILABLE,
    ]
);

/// `POST /token/refresh/` → `{"access_token"}`, plus `"refresh_token"` when
/// `auth.rotate_refresh_tokens` is on.
#[utoipa::path(
    post,
    path = "/token/refresh/",
    tag = "accounts",
    summary = "Get a new access token",
    description = "When the server rotates refresh tokens (`auth.rotate_refresh_tokens`), the \
        answer carries a new refresh token too, the old one stops working, and reusing it \
        revokes its whole login session.",
    request_body(content(
        (RefreshToken = "application/json"),
        (RefreshToken = "application/x-www-form-urlencoded"),
    )),
    responses((status = 200, description = "Refreshed.", body = RefreshResponse), RefreshProblems),
)]
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
#[derive(Serialize, ToSchema)]
struct RefreshResponse {
    /// A new access token.
    access_token: String,
    /// The refresh token to use next time, when the server rotates them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    refresh_token: Option<String>,
}

problems!(
    /// What `POST /logout/` can refuse with.
    LogoutProblems = [
        INVALID_REQUEST,
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        CROSS_SITE_REQUEST,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        STORAGE_UNAVAILABLE,
    ]
);

/// `POST /logout/` with access auth and `{"refresh": "<jwt>"}` → 204: the refresh token (and
/// its login session) stops working.
#[utoipa::path(
    post,
    path = "/logout/",
    tag = "accounts",
    summary = "Log out",
    description = "Revokes the refresh token and its login session. The refresh token must be \
        the caller's own.",
    security(("Token" = []), ("Bearer" = [])),
    request_body(content(
        (RefreshToken = "application/json"),
        (RefreshToken = "application/x-www-form-urlencoded"),
    )),
    responses((status = 204, description = "Logged out."), LogoutProblems),
)]
pub async fn logout(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let [refresh] = body.required_strings(["refresh"])?;
    state.logout.execute(&user, &refresh).await?;
    Ok(HttpResponse::NoContent().finish())
}
