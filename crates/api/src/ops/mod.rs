//! What operators and their machines talk to, apart from the API: health and readiness probes,
//! Prometheus metrics, request ids with one access log line per request, and graceful shutdown.
//!
//! - [`access`]: the request middleware (id, span, access line, HTTP metrics).
//! - [`request_id`]: `X-Request-Id`, accepted or generated, and the current request's id.
//! - [`metrics`]: the registry and every metric; [`MeteredResponder`] times the responder.
//! - [`health`]: `/healthz` and `/readyz`; [`scrape`]: `/metrics`.
//! - [`shutdown`]: the stop sequence and the tasks it waits for.
//!
//! None of this reaches into the core: use-case outcomes arrive through the `ports::ChatMetrics`
//! port, which [`Metrics`] implements.

pub mod access;
pub mod health;
mod metered_responder;
pub mod metrics;
pub mod request_id;
pub mod scrape;
pub mod shutdown;

use actix_web::{http::header, middleware::DefaultHeaders, web};

pub use self::{
    access::RequestObserver, metered_responder::MeteredResponder, metrics::Metrics,
    shutdown::Shutdown,
};
use crate::problem::method_not_allowed;

/// Registers `/healthz` and `/readyz`, and `/metrics` too when `with_metrics` (it may be served on
/// a listener of its own instead). Their answers are never cached. Needs [`health::Readiness`]
/// (and [`scrape::MetricsEndpoint`]) as app data.
pub fn configure(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    probe(cfg, "/healthz", web::get().to(health::healthz));
    probe(cfg, "/readyz", web::get().to(health::readyz));
    if with_metrics {
        configure_metrics(cfg);
    }
}

/// Registers `/metrics` alone (the separate metrics listener's whole app).
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    probe(cfg, "/metrics", web::get().to(scrape::metrics));
}

fn probe(cfg: &mut web::ServiceConfig, path: &str, route: actix_web::Route) {
    cfg.service(
        web::resource(path)
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .route(route)
            .default_service(web::to(method_not_allowed)),
    );
}
