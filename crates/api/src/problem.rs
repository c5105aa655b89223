//! The one place errors become HTTP responses: RFC 9457 `application/problem+json` bodies with the
//! `detail` DRF clients read and a stable machine-readable `code` (catalogue in `docs/api.md`),
//! plus the `request_id` of the request that failed (also in its `X-Request-Id` header), so a
//! client's bug report leads to the server's log lines.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use application::AppError;
use domain::FieldErrors;
use ports::TokenError;
use serde::Serialize;

use crate::ops::{health::NotReady, request_id};

/// Everything a request can fail with: use-case errors plus what only the HTTP edge knows.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A use case refused.
    #[error(transparent)]
    App(#[from] AppError),
    /// The body is not valid JSON / form data, or not an object.
    #[error("{0}")]
    MalformedBody(String),
    /// The body exceeds the size limit.
    #[error("Request body exceeds {limit} bytes.")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Neither JSON nor form data.
    #[error(
        "Unsupported media type {0:?}; send application/json or application/x-www-form-urlencoded."
    )]
    UnsupportedMediaType(String),
    /// No usable `Authorization` header.
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    /// No such route.
    #[error("Not found.")]
    NotFound,
    /// The route exists with other methods.
    #[error("Method not allowed.")]
    MethodNotAllowed,
    /// A browser form post from another site (see `extract::cross_site`).
    #[error("Cross-site form posts are not accepted.")]
    CrossSiteRequest,
    /// `/readyz`: this process should not get traffic now.
    #[error("{0}")]
    NotReady(NotReady),
}

/// The problem+json body.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl ApiError {
    /// Status and stable code, the contract clients branch on.
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::App(error) => match error {
                AppError::Validation(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                AppError::UsernameTaken => (StatusCode::BAD_REQUEST, "username_taken"),
                AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
                AppError::TokenInvalid(_) => (StatusCode::UNAUTHORIZED, "token_invalid"),
                AppError::LoginRequired => (StatusCode::FORBIDDEN, "login_required"),
                AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                AppError::TooManyApiKeys { .. } => (StatusCode::CONFLICT, "too_many_api_keys"),
                AppError::ModelNotFound(_) => (StatusCode::NOT_FOUND, "model_not_found"),
                AppError::InsufficientTokens { .. } => {
                    (StatusCode::PAYMENT_REQUIRED, "insufficient_tokens")
                }
                AppError::IdempotencyKeyReused => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
                }
                AppError::IdempotencyKeyInProgress => {
                    (StatusCode::CONFLICT, "idempotency_key_in_progress")
                }
                AppError::ResponderFailed => (StatusCode::BAD_GATEWAY, "responder_failed"),
                AppError::ResponderTimeout => (StatusCode::GATEWAY_TIMEOUT, "responder_timeout"),
                AppError::ResponderBusy { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, "responder_busy")
                }
                AppError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
                AppError::StorageUnavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
                }
                AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            },
            Self::MalformedBody(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotAuthenticated => (StatusCode::UNAUTHORIZED, "not_authenticated"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::CrossSiteRequest => (StatusCode::FORBIDDEN, "cross_site_request"),
            Self::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        }
    }

    /// `Retry-After` for answers worth retrying: the throttle's or the responder's own wait, one
    /// second for any other outage.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::App(
                AppError::Throttled { retry_after_secs }
                | AppError::ResponderBusy { retry_after_secs },
            ) => Some(*retry_after_secs),
            _ if self.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        }
    }

    pub(crate) fn field_errors(&self) -> Option<&FieldErrors> {
        match self {
            Self::App(AppError::Validation(errors)) => Some(errors),
            _ => None,
        }
    }

    /// Writes to the log what the client is not told: a bug's cause at `error`; why a token was
    /// refused at `info` (an expired one, routine, at `debug`; another account's, a probe or a
    /// leak, at `warn`). The cause of an outage was logged where storage reported it.
    pub(crate) fn log(&self) {
        match self {
            Self::App(AppError::Internal(reason)) => tracing::error!(%reason, "internal error"),
            Self::App(AppError::TokenInvalid(reason)) => match reason {
                TokenError::Expired => tracing::debug!(%reason, "token refused"),
                TokenError::OtherAccount { .. } => tracing::warn!(%reason, "token refused"),
                _ => tracing::info!(%reason, "token refused"),
            },
            _ => {}
        }
    }

    /// The problem+json document (one line) naming `request_id`, after logging what the client
    /// is not told: the body of an error response, and the data of a streamed answer's `error`
    /// event.
    pub fn problem_json(&self, request_id: Option<&request_id::RequestId>) -> String {
        let (status, code) = self.status_and_code();
        self.log();
        let body = Problem {
            kind: format!("urn:chat-api:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: self.field_errors().map(FieldErrors::fields),
            request_id: request_id.map(request_id::RequestId::as_str),
        };
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"))
    }

    /// What the client reads. Validation errors lead with their first field message, as DRF
    /// clients expect one readable line.
    pub(crate) fn detail(&self) -> String {
        match self.field_errors().and_then(FieldErrors::first_message) {
            Some((field, message)) => format!("{field}: {message}"),
            None => self.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let body = self.problem_json(request_id::current().as_ref());
        self.response_with("application/problem+json", body)
    }
}

impl ApiError {
    /// The error's status and headers (`Retry-After`, `WWW-Authenticate`) with `body`, a JSON
    /// document of `content_type`: the one response builder every error format shares, so a
    /// status or a header never depends on the format.
    pub(crate) fn response_with(&self, content_type: &str, body: String) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        response.content_type(content_type);
        if let Some(seconds) = self.retry_after_secs() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Token realm=\"api\""));
        }
        response.body(body)
    }
}

/// Error handlers for actix's own extractors (query strings, paths, JSON and form bodies), so a
/// handler that uses them still answers malformed input with problem+json, never actix's default
/// text bodies. Registered once for the whole app.
pub fn extractor_errors(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    cfg.app_data(web::QueryConfig::default().error_handler(|error, _| {
        ApiError::MalformedBody(format!("Invalid query string - {error}")).into()
    }))
    .app_data(web::PathConfig::default().error_handler(|error, _| {
        ApiError::MalformedBody(format!("Invalid path parameter - {error}")).into()
    }))
    .app_data(web::JsonConfig::default().error_handler(|error, _| {
        ApiError::MalformedBody(format!("JSON parse error - {error}")).into()
    }))
    .app_data(web::FormConfig::default().error_handler(|error, _| {
        ApiError::MalformedBody(format!("Form parse error - {error}")).into()
    }));
}

/// Default service: unknown paths are problem+json 404s, not actix's empty body.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Default service of every resource: wrong methods are problem+json 405s.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

#[cfg(test)]
mod snapshot_tests;

#[cfg(test)]
mod tests {
    use actix_web::{
        App,
        test::{TestRequest, call_service, init_service, read_body_json},
        web,
    };
    use serde::Deserialize;

    use super::*;
    use crate::log_capture::logs_of;

    #[derive(Debug, Deserialize)]
    struct Page {
        #[allow(dead_code)]
        page: u32,
    }

    async fn paged(_: web::Query<Page>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn by_id(_: web::Path<u32>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn actix_extractor_errors_are_problem_json() {
        let app = init_service(
            App::new()
                .configure(extractor_errors)
                .route("/paged", web::get().to(paged))
                .route("/item/{id}", web::get().to(by_id)),
        )
        .await;
        for uri in [
            "/paged?page=-1",
            "/paged?page=%ff%fe",
            "/paged",
            "/item/abc",
        ] {
            let response = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/problem+json",
                "{uri}"
            );
            let body: serde_json::Value = read_body_json(response).await;
            assert_eq!(body["code"], "invalid_request", "{uri}");
        }
    }

    #[test]
    fn an_internal_error_logs_its_cause_at_error() {
        let cause = "relation \"chats\" does not exist";
        let (_, logs) =
            logs_of(|| ApiError::App(AppError::Internal(cause.into())).error_response());
        assert!(logs.contains("ERROR") && logs.contains(cause), "{logs}");
    }

    #[test]
    fn a_refused_token_logs_why_at_a_level_fitting_the_reason() {
        let cases = [
            (TokenError::Expired, "DEBUG", "token expired"),
            (TokenError::Malformed, "INFO", "malformed or forged token"),
            (
                TokenError::AccountInactive(domain::UserId(7)),
                "INFO",
                "token of user 7 whose account is deactivated",
            ),
            (
                TokenError::AccountGone(domain::UserId(7)),
                "INFO",
                "token of user 7 whose account no longer exists",
            ),
            (
                TokenError::CredentialsChanged(domain::UserId(7)),
                "INFO",
                "token of user 7 issued before its credentials changed",
            ),
            (
                TokenError::OtherAccount {
                    owner: domain::UserId(7),
                    presenter: domain::UserId(8),
                },
                "WARN",
                "token of user 7 presented by user 8",
            ),
        ];
        for (reason, level, says) in cases {
            let (_, logs) =
                logs_of(|| ApiError::App(AppError::TokenInvalid(reason)).error_response());
            assert!(
                logs.contains(level) && logs.contains(says),
                "{says}: {logs}"
            );
        }
    }

    #[test]
    fn throttled_is_429_with_retry_after() {
        let response = ApiError::App(AppError::Throttled {
            retry_after_secs: 42,
        })
        .error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "42");
    }
}
