//! What operators and their machines talk to, apart from the API: health and readiness probes,
//! Prometheus metrics, request ids with one access log line per request, and graceful shutdown.
//!
//! - [`access`]: the request middleware (id, span, access line, HTTP metrics).
//! - [`request_id`]: `X-Request-Id`, accepted or generated, and the current request's id.
//! - [`metrics`]: the registry and every metric; [`MeteredResponder`] times the responder.
//! - [`health`]: `/healthz` and `/readyz`; [`scrape`]: `/metrics`.
//! - [`shutdown`]: the stop sequence and the tasks it waits for.
//! - [`Operations`]: all of the above wired into one service's app (and its metrics listener).
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

use std::{net::SocketAddr, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, http::header, middleware::DefaultHeaders, web};
use adapters::storage::{Database, DatabaseUrl};

pub use self::{
    access::RequestObserver, metered_responder::MeteredResponder, metrics::Metrics,
    shutdown::Shutdown,
};
use crate::{
    problem::{self, only_get},
    settings::{ServerSettings, SettingsError},
};

/// What the operational endpoints and the request middleware of one service share.
#[derive(Clone)]
pub struct Operations {
    metrics: Arc<Metrics>,
    shutdown: web::Data<Shutdown>,
    readiness: web::Data<health::Readiness>,
    scrape: web::Data<scrape::MetricsEndpoint>,
    metrics_addr: Option<SocketAddr>,
}

impl Operations {
    /// The service's operations from its `server` settings: `database` is what `/readyz`
    /// checks (`None` for injected storage), `shutdown` its stop sequence.
    pub fn new(
        server: &ServerSettings,
        metrics: Arc<Metrics>,
        database: Option<(Database, DatabaseUrl)>,
        shutdown: Shutdown,
    ) -> Result<Self, SettingsError> {
        Ok(Self {
            readiness: web::Data::new(health::Readiness {
                database,
                shutdown: shutdown.clone(),
            }),
            scrape: web::Data::new(scrape::MetricsEndpoint {
                metrics: metrics.clone(),
                token: server.metrics_token()?.cloned(),
            }),
            metrics_addr: server.metrics_addr()?,
            shutdown: web::Data::new(shutdown),
            metrics,
        })
    }

    /// The request middleware; wrap the app with it last, so it sees every response.
    pub fn observer(&self) -> RequestObserver {
        RequestObserver::new(self.metrics.clone())
    }

    /// Registers [`Shutdown`] as app data, `/healthz`, `/readyz`, and `/metrics` unless it has a
    /// listener of its own. The probes' answers are never cached.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.shutdown.clone())
            .app_data(self.readiness.clone())
            .app_data(self.scrape.clone());
        probe(cfg, "/healthz", web::get().to(health::healthz));
        probe(cfg, "/readyz", web::get().to(health::readyz));
        if self.metrics_addr.is_none() {
            probe(cfg, "/metrics", web::get().to(scrape::metrics));
        }
    }

    /// Binds and starts the `/metrics` listener of its own, when `server.metrics_addr` asks for
    /// one (one worker; its requests get ids, access lines and counts like any other); returns
    /// it with its bound port.
    pub fn metrics_listener(&self) -> std::io::Result<Option<(Server, u16)>> {
        let Some(address) = self.metrics_addr else {
            return Ok(None);
        };
        let listener = std::net::TcpListener::bind(address)?;
        let port = listener.local_addr()?.port();
        let scrape = self.scrape.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(scrape.clone())
                .wrap(RequestObserver::new(scrape.metrics.clone()))
                .configure(|cfg| probe(cfg, "/metrics", web::get().to(scrape::metrics)))
                .default_service(web::to(problem::not_found))
        })
        .disable_signals()
        .workers(1)
        .listen(listener)?
        .run();
        tracing::info!(%address, port, "serving /metrics on its own listener");
        Ok(Some((server, port)))
    }
}

fn probe(cfg: &mut web::ServiceConfig, path: &str, route: actix_web::Route) {
    cfg.service(
        web::resource(path)
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .route(route)
            .default_service(web::to(only_get)),
    );
}
