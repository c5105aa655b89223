//! `GET /metrics`: the Prometheus text exposition, open or behind a bearer token.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use application::AppError;
use ports::TokenError;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::Metrics;
use crate::{extract::BearerToken, problem::ApiError};

/// The metrics and who may read them.
pub struct MetricsEndpoint {
    /// What is served.
    pub metrics: Arc<Metrics>,
    /// `server.metrics_token`: when set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

impl MetricsEndpoint {
    /// No credentials is 401 `not_authenticated`, a wrong token 401 `token_invalid`; the token is
    /// compared in constant time.
    fn authorize(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let BearerToken(presented) = BearerToken::from_header(request)?;
        if presented.is_empty() {
            return Err(ApiError::NotAuthenticated);
        }
        let matches: bool = presented
            .as_bytes()
            .ct_eq(expected.expose_secret().as_bytes())
            .into();
        if matches {
            Ok(())
        } else {
            Err(AppError::TokenInvalid(TokenError::Malformed).into())
        }
    }
}

/// `GET /metrics` → `text/plain; version=0.0.4`.
pub async fn metrics(
    request: HttpRequest,
    endpoint: web::Data<MetricsEndpoint>,
) -> Result<HttpResponse, ApiError> {
    endpoint.authorize(&request)?;
    let text = endpoint
        .metrics
        .render()
        .map_err(|e| AppError::Internal(format!("cannot render the metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn endpoint(token: Option<&str>) -> MetricsEndpoint {
        MetricsEndpoint {
            metrics: Arc::new(Metrics::new(None).unwrap()),
            token: token.map(|t| SecretString::from(t.to_owned())),
        }
    }

    fn with_auth(value: Option<&str>) -> HttpRequest {
        let mut request = TestRequest::get().uri("/metrics");
        if let Some(value) = value {
            request = request.insert_header(("Authorization", value));
        }
        request.to_http_request()
    }

    #[test]
    fn without_a_configured_token_anyone_may_scrape() {
        assert!(endpoint(None).authorize(&with_auth(None)).is_ok());
    }

    #[test]
    fn with_a_token_only_its_bearer_may_scrape() {
        let endpoint = endpoint(Some("scrape-secret-0123456789"));
        assert!(
            endpoint
                .authorize(&with_auth(Some("Bearer scrape-secret-0123456789")))
                .is_ok()
        );
        assert!(matches!(
            endpoint.authorize(&with_auth(None)),
            Err(ApiError::NotAuthenticated)
        ));
        assert!(matches!(
            endpoint.authorize(&with_auth(Some("Bearer "))),
            Err(ApiError::NotAuthenticated)
        ));
        for wrong in ["Bearer scrape-secret-012345678", "Bearer x", "Basic abc"] {
            assert!(
                endpoint.authorize(&with_auth(Some(wrong))).is_err(),
                "{wrong}"
            );
        }
    }
}
