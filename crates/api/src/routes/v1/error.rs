//! Errors under `/v1/` in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so
//! OpenAI SDKs raise their usual exceptions (`AuthenticationError` for 401,
//! `RateLimitError` for 429, …). Only the body differs from the rest of the API: the status,
//! the `code` and the headers come from the same [`ApiError`] mapping, chosen in one place
//! (`ApiError::status_and_code`), and the error was logged once, when it became a response.

use actix_web::{
    Error, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    middleware::Next,
};
use serde::Serialize;

use crate::problem::ApiError;

/// The body of an OpenAI error.
#[derive(Debug, Serialize)]
pub struct OpenAiErrorBody {
    error: OpenAiError,
}

/// What is inside it.
#[derive(Debug, Serialize)]
struct OpenAiError {
    message: String,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<String>,
    code: &'static str,
}

impl OpenAiErrorBody {
    /// `error` in OpenAI's shape: our `detail` as the message, our `code`, the first invalid
    /// field (if any) as `param`, and OpenAI's type for the status.
    pub fn of(error: &ApiError) -> Self {
        let (status, code) = error.status_and_code();
        Self {
            error: OpenAiError {
                message: error.detail(),
                kind: error_type(status),
                param: error
                    .field_errors()
                    .and_then(|errors| errors.first_message())
                    .map(|(field, _)| field.to_owned()),
                code,
            },
        }
    }
}

impl OpenAiErrorBody {
    /// The response `error` gets under `/v1/`: this body with the native status and headers.
    pub fn response(error: &ApiError) -> HttpResponse {
        let body = serde_json::to_string(&Self::of(error)).unwrap_or_else(|_| String::from("{}"));
        error.response_with("application/json", body)
    }
}

/// OpenAI's error `type` for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Middleware of the `/v1` scope: any response that carries an [`ApiError`] (from a handler,
/// an extractor, or the scope's 404 and 405) is re-rendered in OpenAI's shape with the same
/// status and headers; every other response passes untouched.
pub async fn openai_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(request).await?;
    let reshaped = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .map(OpenAiErrorBody::response);
    Ok(match reshaped {
        Some(reshaped) => response.into_response(reshaped).map_into_right_body(),
        None => response.map_into_left_body(),
    })
}
