//! The middleware every request passes through first: it gives the request its id, a tracing span
//! that every log line of the request carries (`method`, `route`, `request_id`, and `user_id` once
//! known), one access log line when the response head is ready, the `X-Request-Id` response
//! header, and its count in the HTTP metrics.
//!
//! The access line is an `info` event with target `access` (`debug` for the probe and metrics
//! endpoints, which a balancer calls every few seconds): method, route template, status, latency,
//! request id and user id, never a header or a body, so no password, token or key can reach it.
//! It is written outside the request span, so in JSON every field is a top-level key.

use std::{
    future::{Ready, ready},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use actix_web::{
    Error, HttpMessage, HttpRequest,
    body::{BodySize, MessageBody},
    dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    web::Bytes,
};
use domain::UserId;
use futures_util::future::LocalBoxFuture;
use tracing::{Instrument, Span};

use super::{
    Metrics,
    metrics::UNMATCHED_ROUTE,
    request_id::{self, RequestId},
};

/// Routes polled by machines: their access lines are `debug`, not `info`.
const PROBE_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The user a request acted as, once an extractor authenticated it (for the access line).
#[derive(Debug, Clone, Copy)]
struct Identified(UserId);

/// Records that `request` is made by `user`: on the request's span (so every later log line of
/// the request names the user) and for its access line.
pub fn identify(request: &HttpRequest, user: UserId) {
    Span::current().record("user_id", user.0);
    request.extensions_mut().insert(Identified(user));
}

/// The middleware's factory; wrap the whole app with it (outermost, so it sees every response).
pub struct RequestObserver {
    metrics: Arc<Metrics>,
}

impl RequestObserver {
    /// Counts requests in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestObserver
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<ObservedBody<B>>;
    type Error = Error;
    type Transform = RequestObserverService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestObserverService {
            service,
            metrics: self.metrics.clone(),
        }))
    }
}

/// The middleware itself (see the module documentation).
pub struct RequestObserverService<S> {
    service: S,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<ServiceRequest> for RequestObserverService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<ObservedBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::from_header(request.headers().get(request_id::HEADER));
        let route = request.match_pattern();
        let method = request.method().clone();
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = %route.as_deref().unwrap_or(UNMATCHED_ROUTE),
            // Quoted in text lines: it is the client's.
            request_id = id.as_str(),
            user_id = tracing::field::Empty,
        );
        let handled = span.in_scope(|| self.service.call(request));
        let handled = request_id::scope(id.clone(), handled.instrument(span.clone()));
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
            let result = handled.await;
            let (status, user) = match &result {
                Ok(response) => (response.status(), identified(response.request())),
                // Every handler and middleware of ours answers with a response; an error that
                // still escapes is rendered by actix outside this request (without its id).
                Err(error) => (error.as_response_error().status_code(), None),
            };
            let elapsed = started.elapsed();
            metrics.observe_request(&method, route, status, elapsed);
            log_access(&method, route, status.as_u16(), elapsed, &id, user);
            let mut response = result?;
            response
                .headers_mut()
                .insert(request_id::HEADER, id.header_value());
            Ok(response.map_body(|_, body| ObservedBody { body, span, id }))
        })
    }
}

/// The user an extractor [`identify`]-ed on `request`, if any.
fn identified(request: &HttpRequest) -> Option<i64> {
    request
        .extensions()
        .get::<Identified>()
        .map(|Identified(user)| user.0)
}

/// The access line (see the module documentation).
fn log_access(
    method: &actix_web::http::Method,
    route: &str,
    status: u16,
    elapsed: std::time::Duration,
    id: &RequestId,
    user_id: Option<i64>,
) {
    // Microsecond precision: a readable number of milliseconds.
    let latency_ms = u32::try_from(elapsed.as_micros()).map_or(f64::MAX, f64::from) / 1000.0;
    let request_id = id.as_str();
    if PROBE_ROUTES.contains(&route) {
        tracing::debug!(target: "access", %method, %route, status, latency_ms, request_id, user_id, "request");
    } else {
        tracing::info!(target: "access", %method, %route, status, latency_ms, request_id, user_id, "request");
    }
}

pin_project_lite::pin_project! {
    /// A response body polled inside its request's span and request id, so whatever a streamed
    /// body logs or renders (an error event mid-stream) still names its request.
    pub struct ObservedBody<B> {
        #[pin]
        body: B,
        span: Span,
        id: RequestId,
    }
}

impl<B: MessageBody> MessageBody for ObservedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let body = this.body;
        let _entered = this.span.enter();
        request_id::sync_scope(this.id.clone(), || body.poll_next(cx))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{
        App, HttpResponse,
        http::StatusCode,
        test::{TestRequest, call_service, init_service, read_body_json},
        web,
    };

    use super::*;
    use crate::problem::ApiError;

    async fn failing() -> Result<HttpResponse, ApiError> {
        Err(ApiError::NotFound)
    }

    #[actix_web::test]
    async fn a_request_id_is_echoed_named_in_problem_bodies_and_fresh_when_absent() {
        let metrics = Arc::new(Metrics::new(None).unwrap());
        let app = init_service(
            App::new()
                .wrap(RequestObserver::new(metrics))
                .route("/ok", web::get().to(HttpResponse::Ok))
                .route("/failing", web::get().to(failing)),
        )
        .await;
        let request = TestRequest::get()
            .uri("/failing")
            .insert_header((request_id::HEADER, "client-chosen-42"))
            .to_request();
        let response = call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers().get(request_id::HEADER).unwrap(),
            "client-chosen-42"
        );
        let body: serde_json::Value = read_body_json(response).await;
        assert_eq!(body["request_id"], "client-chosen-42");

        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3 {
            let response = call_service(&app, TestRequest::get().uri("/ok").to_request()).await;
            assert_eq!(response.status(), StatusCode::OK);
            let id = response.headers().get(request_id::HEADER).unwrap();
            assert!(uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok());
            seen.insert(id.clone());
        }
        assert_eq!(seen.len(), 3);
    }
}
