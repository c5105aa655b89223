//! Admin failures as HTML pages. The JSON API's problem+json mapping does not apply under
//! `/admin/`: a browser shows these to a person.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use application::{AppError, admin::AdminError};
use askama::Template;

use super::views::ErrorPage;

/// Why an admin request did not produce its page.
#[derive(Debug, thiserror::Error)]
pub enum AdminPageError {
    /// No live admin session: redirect to the login page (303).
    #[error("login required")]
    LoginRequired,
    /// Missing or wrong CSRF token; nothing was changed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such page, user or chat.
    #[error("Not found.")]
    NotFound,
    /// The path exists with other methods.
    #[error("Method not allowed.")]
    MethodNotAllowed,
    /// Malformed form or query string.
    #[error("Bad request: {0}")]
    BadRequest(String),
    /// Too many failed logins (the API's throttle); retry after the given seconds.
    #[error("Too many failed login attempts. Try again in {0} seconds.")]
    Throttled(u64),
    /// Storage unreachable or busy; retry later.
    #[error("The database is temporarily unavailable; please retry.")]
    Unavailable,
    /// A bug. The string goes to the log only.
    #[error("internal error")]
    Internal(String),
}

impl From<AdminError> for AdminPageError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::NotFound => Self::NotFound,
            AdminError::InvalidCredentials => Self::Forbidden("Not allowed."),
            AdminError::Validation(errors) => Self::BadRequest(
                errors
                    .first_message()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .unwrap_or_default(),
            ),
            AdminError::App(error) => error.into(),
        }
    }
}

impl From<AppError> for AdminPageError {
    /// The shared failures an admin use case can meet. The others belong to the JSON API (tokens,
    /// chats, sign-ups); should one reach the panel it is a bug, logged with what it was.
    fn from(error: AppError) -> Self {
        match error {
            AppError::StorageUnavailable => Self::Unavailable,
            AppError::Throttled { retry_after_secs } => Self::Throttled(retry_after_secs),
            AppError::Internal(cause) => Self::Internal(cause),
            other => Self::Internal(format!("unexpected in the admin panel: {other:?}")),
        }
    }
}

impl From<askama::Error> for AdminPageError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(format!("template: {error}"))
    }
}

impl ResponseError for AdminPageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::LoginRequired => StatusCode::SEE_OTHER,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::LoginRequired = self {
            return super::see_other("/admin/login/");
        }
        if let Self::Internal(reason) = self {
            tracing::error!(%reason, "admin internal error");
        }
        let status = self.status_code();
        let page = ErrorPage {
            nav: None,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            message: self.to_string(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("<!doctype html><title>{}</title>", status.as_u16()));
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        match self {
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::Throttled(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        response.body(body)
    }
}

/// Unknown paths under `/admin/`.
pub async fn not_found() -> Result<HttpResponse, AdminPageError> {
    Err(AdminPageError::NotFound)
}

/// Wrong methods on admin paths.
pub async fn method_not_allowed() -> Result<HttpResponse, AdminPageError> {
    Err(AdminPageError::MethodNotAllowed)
}

/// Renders a page with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AdminPageError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;
    use crate::log_capture::logs_of;

    #[test]
    fn an_application_bug_keeps_its_cause_in_the_log_and_out_of_the_page() {
        let cause = "relation \"chats\" does not exist";
        let error = AdminPageError::from(AdminError::App(AppError::Internal(cause.into())));
        let (response, logs) = logs_of(|| error.error_response());
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(logs.contains("ERROR") && logs.contains(cause), "{logs}");
        let page = response.into_body().try_into_bytes().unwrap_or_default();
        assert!(!String::from_utf8_lossy(&page).contains("chats"));
    }

    #[test]
    fn an_api_only_error_in_the_panel_is_a_bug_that_says_what_it_was() {
        let error = AdminPageError::from(AdminError::App(AppError::IdempotencyKeyReused));
        assert!(
            matches!(&error, AdminPageError::Internal(reason) if reason.contains("IdempotencyKeyReused")),
            "{error:?}"
        );
    }

    #[test]
    fn outages_and_throttling_keep_their_status_and_retry_after() {
        let unavailable = AdminPageError::from(AdminError::App(AppError::StorageUnavailable));
        let throttled = AdminPageError::from(AdminError::App(AppError::Throttled {
            retry_after_secs: 42,
        }));
        for (error, status, retry_after) in [
            (unavailable, StatusCode::SERVICE_UNAVAILABLE, "1"),
            (throttled, StatusCode::TOO_MANY_REQUESTS, "42"),
        ] {
            let response = error.error_response();
            assert_eq!(response.status(), status);
            assert_eq!(
                response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.as_bytes()),
                Some(retry_after.as_bytes())
            );
        }
    }
}
