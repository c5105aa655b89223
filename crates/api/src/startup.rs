//! The composition root: settings in, the service out. The server (`main`), the command line and
//! the tests all build it through [`Application::builder`]:
//!
//! ```no_run
//! # async fn demo(settings: api::Settings) -> Result<(), api::StartupError> {
//! let application = api::Application::builder(settings).build().await?;
//! application.run_until_stopped().await?;
//! # Ok(()) }
//! ```
//!
//! The builder validates the settings, opens the configured storage (or takes the one given to
//! [`ApplicationBuilder::storage`]), resolves the JWT secret, builds the adapters and wires every
//! use case with [`application::Services::new`]; [`ApplicationBuilder::build`] then binds the
//! listeners, while [`ApplicationBuilder::services`] stops before it (one-shot commands).
//!
//! It is also how a team serves chat-api with adapters of its own, from its own crate: any
//! `ports::Responder`, and any type implementing every repository port (a `ports::Storage`),
//! replace the configured ones (`examples/custom-responder`, `docs/adapters.md`):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn demo(
//! #     settings: api::Settings,
//! #     my_model: Arc<dyn ports::Responder>,
//! #     my_store: Arc<dyn ports::Storage>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! api::Application::builder(settings)
//!     .responder(my_model)
//!     .storage(my_store)
//!     .build()
//!     .await?
//!     .run_until_stopped()
//!     .await?;
//! # Ok(()) }
//! ```

use std::{future::Future, net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::DefaultHeaders, web};
use adapters::{
    SystemClock,
    crypto::{BcryptHasher, JwtIssuer, JwtSettings, RandomSecrets},
    responder::{
        DummyResponder, LimitedResponder, OpenAiResponder, TimeoutResponder, limited::SLOT_WAIT,
        openai::OpenAiConfigError,
    },
    storage::{Database, DieselStorage},
};
use application::{Ports, Services};
use ports::{Responder, Storage};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;

use crate::{
    background, openapi,
    ops::{self, MeteredResponder, Metrics, Operations, Shutdown},
    problem, routes, secret,
    settings::{DatabaseSettings, ResponderKind, ResponderSettings, Settings, SettingsError},
};

/// Why the service could not start. Each says what to fix; a wrapped cause is the error's
/// `source` (print with `{:#}` to see the chain), never repeated in its message.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing, malformed or out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] adapters::storage::DatabaseError),
    /// No usable JWT secret.
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    /// The password hasher could not be prepared.
    #[error("cannot prepare the password hasher")]
    Hasher(#[from] ports::HasherError),
    /// The responder adapter could not be set up (its HTTP client, say).
    #[error("cannot set up the responder")]
    Responder(#[from] OpenAiConfigError),
    /// A setup step running off the async runtime died.
    #[error("a startup task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The listener could not be bound.
    #[error("cannot listen")]
    Io(#[from] std::io::Error),
    /// The metrics registry refused a metric (a bug: two with one name).
    #[error("cannot set up the metrics")]
    Metrics(#[from] prometheus::Error),
    /// The OpenAPI document could not be serialised (a bug).
    #[error("cannot serialise the OpenAPI document")]
    Document(#[from] serde_json::Error),
}

/// Opens the configured database and applies pending migrations.
pub async fn open_storage(settings: &DatabaseSettings) -> Result<DieselStorage, StartupError> {
    let url = settings.validate()?;
    let pool = settings.pool_settings();
    tracing::info!(database = %url.redacted(), "opening database");
    let db = tokio::task::spawn_blocking(move || -> Result<Database, StartupError> {
        let db = Database::connect(&url, &pool)?;
        let applied = db.migrate()?;
        if applied > 0 {
            tracing::info!(applied, "applied migrations");
        }
        Ok(db)
    })
    .await??;
    Ok(DieselStorage::new(db))
}

/// The service's parts before they are wired: the settings, and the adapters to use instead of
/// the configured ones. Made by [`Application::builder`].
pub struct ApplicationBuilder {
    settings: Settings,
    responder: Option<Arc<dyn Responder>>,
    storage: Option<Arc<dyn Storage>>,
}

impl ApplicationBuilder {
    /// Answers chats with `responder` instead of the adapter `responder.kind` names. It is still
    /// wrapped in the `responder.timeout_secs` / `max_duration_secs` timeouts, so a stalled model
    /// costs nobody tokens, and in the `responder.max_concurrency` limit.
    pub fn responder(mut self, responder: Arc<dyn Responder>) -> Self {
        self.responder = Some(responder);
        self
    }

    /// Keeps everything in `storage` instead of the database `database.url` names (which is then
    /// only checked for its form). No migration is run: the storage's schema is its own business.
    /// Run the storage contract (`contract_tests::storage_tests!`) on it first.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Validates the settings and wires every use case, without listening (the command line's
    /// one-shot commands use this).
    pub async fn services(self) -> Result<Services, StartupError> {
        Ok(self.wire().await?.services)
    }

    /// Every use case, wired, with the metrics they report to and the storage adapter when it
    /// was opened here (for the pool gauges and the readiness check).
    async fn wire(self) -> Result<Wired, StartupError> {
        let settings = &self.settings;
        settings.validate()?;
        let (storage, opened): (Arc<dyn Storage>, _) = match self.storage {
            Some(storage) => (storage, None),
            None => {
                let opened = open_storage(&settings.database).await?;
                (Arc::new(opened.clone()), Some(opened))
            }
        };
        let metrics = Arc::new(Metrics::new(opened.clone())?);
        let secret = secret::resolve(settings, &*storage).await?;
        let cost = settings.auth.bcrypt_cost;
        // At cost 12 preparing the hasher (one dummy hash) takes a quarter second of CPU.
        let hasher = tokio::task::spawn_blocking(move || BcryptHasher::new(cost)).await??;
        let tokens = JwtIssuer::new(
            secret.expose_secret().as_bytes(),
            JwtSettings {
                access_ttl: Duration::from_secs(settings.auth.access_ttl_secs),
                refresh_ttl: Duration::from_secs(settings.auth.refresh_ttl_secs),
                leeway: Duration::from_secs(settings.auth.leeway_secs),
            },
        );
        let responder = match self.responder {
            Some(responder) => responder,
            None => configured_responder(&settings.responder)?,
        };
        let responder = wrap_responder(responder, &settings.responder);
        let ports = Ports {
            storage,
            hasher: Arc::new(hasher),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
            responder: Arc::new(MeteredResponder::new(responder, metrics.clone())),
            secrets: Arc::new(RandomSecrets),
            metrics: metrics.clone(),
        };
        Ok(Wired {
            services: Services::new(ports, settings.services_config()?),
            metrics,
            opened,
        })
    }

    /// Wires the service and binds its listeners; [`Application::run_until_stopped`] serves.
    pub async fn build(self) -> Result<Application, StartupError> {
        let settings = self.settings.clone();
        let Wired {
            services,
            metrics,
            opened,
        } = self.wire().await?;
        let services = Arc::new(services);
        // `build` runs on the main runtime: the one tracked tasks must run on.
        let shutdown = Shutdown::new(tokio::runtime::Handle::current());
        let database = match &opened {
            Some(storage) => Some((storage.database().clone(), settings.database.validate()?)),
            None => None,
        };
        let ops = Operations::new(
            &settings.server,
            metrics.clone(),
            database,
            shutdown.clone(),
        )?;
        let trusted_proxies = web::Data::new(settings.server.trusted_proxies()?);
        let cookie_policy = web::Data::new(crate::admin::CookiePolicy {
            always_secure: !settings.is_development(),
        });
        let state = web::Data::from(services.clone());
        let app_ops = ops.clone();
        let docs = openapi::Docs::new()?;
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(trusted_proxies.clone())
                .app_data(cookie_policy.clone())
                .configure(problem::extractor_errors)
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(app_ops.observer())
                .configure(|cfg| serve(cfg, &app_ops, &docs))
                .default_service(web::to(problem::not_found))
        })
        // A client that closes its side of the connection has left: without this actix would
        // keep streaming an answer (and charging for it) to a half-closed socket. The chat task
        // learns of it when the response body is dropped.
        .h1_allow_half_closed(false)
        // Signals are ours (see `run_until_stopped`): actix would stop at once on SIGINT. Its own
        // timeout is one second past ours, so streams cut at our deadline can still end cleanly.
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_timeout_secs.saturating_add(1))
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(host = %settings.server.host, port, "listening");
        Ok(Application {
            port,
            server: server.run(),
            metrics_listener: ops.metrics_listener()?,
            services,
            metrics,
            shutdown,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
            sweep_interval: Duration::from_secs(settings.ledger.sweep_interval_secs),
            prune_interval: Duration::from_secs(settings.throttle.prune_interval_secs),
            audit_interval: Duration::from_secs(settings.ledger.audit_interval_secs),
            storage: opened,
        })
    }
}

/// Registers every route of the main listener: the probes (and `/metrics` unless it has a
/// listener of its own), the JSON API through utoipa-actix-web (see [`crate::openapi`]), its
/// document and docs, and the admin panel.
pub fn serve(cfg: &mut web::ServiceConfig, ops: &Operations, docs: &openapi::Docs) {
    ops.configure(cfg);
    routes::configure(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
    docs.configure(cfg);
    crate::admin::configure(cfg);
}

/// What [`ApplicationBuilder::wire`] makes.
struct Wired {
    services: Services,
    metrics: Arc<Metrics>,
    opened: Option<DieselStorage>,
}

/// The responder adapter `responder.kind` names (built once: its HTTP client is the process's
/// connection pool).
fn configured_responder(settings: &ResponderSettings) -> Result<Arc<dyn Responder>, StartupError> {
    Ok(match settings.kind {
        ResponderKind::Dummy => Arc::new(DummyResponder::with_word_delay(Duration::from_millis(
            settings.dummy_delay_ms,
        ))),
        ResponderKind::OpenAi => {
            let responder = OpenAiResponder::new(settings.openai_config()?)?;
            tracing::info!(
                endpoint = %responder.endpoint(),
                model = %responder.model(),
                authorization = settings.api_key().is_some(),
                "answering with an OpenAI-compatible server"
            );
            Arc::new(responder)
        }
    })
}

/// `responder` inside the wrappers every responder gets: the concurrency limit outside (a call
/// that gets no slot never starts its clock), the timeouts inside.
fn wrap_responder(
    responder: Arc<dyn Responder>,
    settings: &ResponderSettings,
) -> Arc<dyn Responder> {
    let timed = TimeoutResponder::new(
        responder,
        Duration::from_secs(settings.timeout_secs),
        Duration::from_secs(settings.max_duration_secs),
    );
    let slots = usize::try_from(settings.max_concurrency).unwrap_or(usize::MAX);
    Arc::new(LimitedResponder::new(Arc::new(timed), slots, SLOT_WAIT))
}

/// A bound, not yet running server and its background tasks.
pub struct Application {
    port: u16,
    server: Server,
    metrics_listener: Option<(Server, u16)>,
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    shutdown_timeout: Duration,
    sweep_interval: Duration,
    prune_interval: Duration,
    audit_interval: Duration,
    /// The storage adapter when it was opened here, for flushing its writes before exit.
    storage: Option<DieselStorage>,
}

impl Application {
    /// Starts building the service from `settings`.
    pub fn builder(settings: Settings) -> ApplicationBuilder {
        ApplicationBuilder {
            settings,
            responder: None,
            storage: None,
        }
    }

    /// Builds the service from settings alone (`Application::builder(settings).build()`).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::builder(settings).build().await
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` listener, when `server.metrics_addr` asked for one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener.as_ref().map(|(_, port)| *port)
    }

    /// A handle that stops the server (tests restart the service with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process gets SIGTERM or SIGINT, then stops gracefully (see
    /// [`Self::run_until`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(async {
            match ops::shutdown::os_signal().await {
                Ok(signal) => tracing::info!(signal, "stop requested"),
                Err(error) => {
                    tracing::error!(%error, "cannot listen for signals; serving until killed");
                    std::future::pending::<()>().await;
                }
            }
        })
        .await
    }

    /// Serves, with the background jobs alongside, until `stop` resolves or the server is stopped
    /// through [`Self::handle`]; then stops gracefully (see [`crate::ops::shutdown`]): no new
    /// connections, in-flight requests finish within `server.shutdown_timeout_secs`, tracked
    /// tasks get a little longer to settle, the background jobs finish their current run.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let jobs = self.spawn_jobs();
        let Self {
            server,
            metrics_listener,
            shutdown,
            shutdown_timeout,
            storage,
            ..
        } = self;
        let metrics_listener = metrics_listener.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = stop => {
                tracing::info!(
                    timeout_secs = shutdown_timeout.as_secs(),
                    "stopping: no new connections, in-flight requests may finish"
                );
                shutdown.begin(shutdown_timeout);
                // The server future itself carries the stop out, so it is polled alongside.
                let ((), result) = tokio::join!(handle.stop(true), server);
                result
            }
        };
        shutdown.begin(shutdown_timeout);
        if let Some(metrics_listener) = metrics_listener {
            metrics_listener.stop(false).await;
        }
        let abandoned = shutdown.wait_for_tasks().await;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "tasks still running past the deadline were abandoned; the sweeper refunds their pending charges"
            );
        }
        for job in jobs {
            if let Err(error) = job.await {
                tracing::error!(%error, "background job failed to stop");
            }
        }
        // After the last task and job that could queue a write, before the process exits: an
        // abandoned task's queued write still commits.
        if let Some(storage) = storage {
            if let Err(error) = storage.flush().await {
                tracing::warn!(%error, "queued writes could not be flushed before exit");
            }
        }
        tracing::info!("stopped");
        result
    }

    /// The charge sweeper, the security pruner and the ledger audit, each stopping after its
    /// current run once the service is stopping.
    fn spawn_jobs(&self) -> Vec<JoinHandle<()>> {
        let stop = self.shutdown.stopping();
        let services = self.services.clone();
        let sweeper =
            background::spawn_periodic("charge sweeper", self.sweep_interval, stop, move || {
                let services = services.clone();
                async move { services.sweep.execute().await }
            });
        let services = self.services.clone();
        let pruner =
            background::spawn_periodic("security pruner", self.prune_interval, stop, move || {
                let services = services.clone();
                async move { services.prune.execute().await }
            });
        let (services, metrics) = (self.services.clone(), self.metrics.clone());
        let auditor =
            background::spawn_periodic("ledger audit", self.audit_interval, stop, move || {
                let (services, metrics) = (services.clone(), metrics.clone());
                async move { audit_ledger(&services, &metrics).await }
            });
        vec![sweeper, pruner, auditor]
    }
}

/// One ledger audit for the metrics; a drifted ledger is also logged, since nobody may be
/// watching the gauge.
async fn audit_ledger(services: &Services, metrics: &Metrics) -> Result<(), application::AppError> {
    let report = services.audit_ledger.execute().await?;
    let drift = i64::try_from(report.drift).unwrap_or(i64::MAX);
    metrics.record_audit(
        drift,
        report.pending_charges,
        chrono::Utc::now().timestamp(),
    );
    if !report.is_consistent() {
        tracing::error!(
            drift,
            violations = report.violations.len(),
            "the ledger is inconsistent; run chat-api check-ledger for the accounts"
        );
    }
    Ok(())
}
