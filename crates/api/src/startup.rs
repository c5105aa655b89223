//! The composition root: settings in, a running server out. `main` and the tests build the
//! service the same way, through [`Application::build`].

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::DefaultHeaders, web};
use adapters::{
    SystemClock,
    crypto::{BcryptHasher, JwtIssuer, JwtSettings},
    responder::{DummyResponder, TimeoutResponder},
    storage::{Database, DatabaseUrl, DieselStorage},
};
use application::{
    Authenticate, ChargePolicy, Login, LoginThrottle, Logout, PruneSecurityRecords, RefreshAccess,
    Register, SendChat, SignupThrottle, SweepExpiredCharges,
};
use domain::Pricing;
use ports::{Clock, Responder};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::{
    background,
    extract::TrustedProxies,
    problem, routes, secret,
    settings::{DatabaseSettings, Settings},
    state::AppState,
};

/// Why the service could not start. Each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `database.url` names no supported backend.
    #[error(transparent)]
    DatabaseUrl(#[from] adapters::storage::DatabaseUrlError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] adapters::storage::DatabaseError),
    /// No usable JWT secret.
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// The listener could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// Replaceable parts, for tests that need a responder that fails or stalls.
#[derive(Default)]
pub struct Overrides {
    /// Used instead of the configured responder (still wrapped in the timeout).
    pub responder: Option<Arc<dyn Responder>>,
}

/// A bound, not yet running server and its background tasks.
pub struct Application {
    port: u16,
    server: Server,
    sweep: Arc<SweepExpiredCharges>,
    sweep_interval: Duration,
    prune: Arc<PruneSecurityRecords>,
    prune_interval: Duration,
}

/// Opens the configured database and applies pending migrations.
pub async fn open_storage(settings: &DatabaseSettings) -> Result<DieselStorage, StartupError> {
    let url = DatabaseUrl::parse(settings.url.expose_secret())?;
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
    .await
    .map_err(|e| StartupError::InvalidSetting(format!("database setup task failed: {e}")))??;
    Ok(DieselStorage::new(db))
}

impl Application {
    /// Builds the service from settings.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Overrides::default()).await
    }

    /// Builds the service with some parts replaced.
    pub async fn build_with(
        settings: Settings,
        overrides: Overrides,
    ) -> Result<Self, StartupError> {
        let storage = open_storage(&settings.database).await?;
        let secret = secret::resolve(&settings, &storage).await?;
        let pricing = Pricing::new(
            settings.ledger.signup_grant,
            settings.ledger.price_per_message,
        )
        .map_err(|e| StartupError::InvalidSetting(format!("ledger: {e}")))?;
        let bcrypt_cost = settings.auth.bcrypt_cost;
        let hasher = tokio::task::spawn_blocking(move || BcryptHasher::new(bcrypt_cost))
            .await
            .map_err(|e| StartupError::InvalidSetting(e.to_string()))?
            .map_err(|e| StartupError::InvalidSetting(format!("auth.bcrypt_cost: {e}")))?;
        let responder_timeout = Duration::from_secs(settings.responder.timeout_secs);
        let responder: Arc<dyn Responder> = match overrides.responder {
            Some(responder) => responder,
            None => match settings.responder.kind.as_str() {
                "dummy" => Arc::new(DummyResponder),
                other => {
                    return Err(StartupError::InvalidSetting(format!(
                        "responder.kind {other:?} is unknown"
                    )));
                }
            },
        };
        let responder = Arc::new(TimeoutResponder::new(responder, responder_timeout));

        let trusted_proxies = web::Data::new(
            TrustedProxies::parse(&settings.server.trusted_proxies).map_err(|e| {
                StartupError::InvalidSetting(format!("server.trusted_proxies: {e}"))
            })?,
        );
        if chrono::Duration::seconds(i64::try_from(settings.auth.leeway_secs).unwrap_or(i64::MAX))
            >= application::refresh::REVOCATION_SLACK
        {
            return Err(StartupError::InvalidSetting(
                "auth.leeway_secs must be below 3600 (revocations are kept one hour past expiry)"
                    .into(),
            ));
        }
        let storage = Arc::new(storage);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let hasher = Arc::new(hasher);
        let tokens = Arc::new(JwtIssuer::new(
            secret.expose_secret().as_bytes(),
            JwtSettings {
                access_ttl: Duration::from_secs(settings.auth.access_ttl_secs),
                refresh_ttl: Duration::from_secs(settings.auth.refresh_ttl_secs),
                leeway: Duration::from_secs(settings.auth.leeway_secs),
            },
        ));
        let authenticate = Arc::new(Authenticate::new(
            storage.clone(),
            tokens.clone(),
            clock.clone(),
        ));
        let policy = ChargePolicy {
            pricing,
            responder_timeout,
            settle_grace: Duration::from_secs(settings.ledger.charge_grace_secs),
        };
        let login_throttle = Arc::new(LoginThrottle::new(
            storage.clone(),
            clock.clone(),
            settings.throttle.login_limits(),
        ));
        let admin = crate::admin::AdminServices::new(
            storage.clone(),
            hasher.clone(),
            Arc::new(adapters::crypto::RandomSecrets),
            clock.clone(),
            login_throttle.clone(),
        );
        let state = web::Data::new(AppState {
            register: Register::new(storage.clone(), hasher.clone(), clock.clone(), pricing),
            login: Login::new(storage.clone(), hasher, tokens.clone(), clock.clone()),
            refresh: RefreshAccess::new(
                authenticate.clone(),
                tokens.clone(),
                storage.clone(),
                clock.clone(),
                settings.auth.rotate_refresh_tokens,
            ),
            logout: Logout::new(tokens, storage.clone(), clock.clone()),
            login_throttle,
            signup_throttle: SignupThrottle::new(
                storage.clone(),
                clock.clone(),
                settings.throttle.signup_limit(),
            ),
            authenticate,
            send_chat: Arc::new(SendChat::new(
                storage.clone(),
                responder,
                clock.clone(),
                policy,
            )),
            admin,
        });
        let prune = Arc::new(PruneSecurityRecords::new(
            storage.clone(),
            storage.clone(),
            clock.clone(),
            settings.throttle.longest_window(),
        ));
        let sweep = Arc::new(SweepExpiredCharges::new(storage, clock));

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(trusted_proxies.clone())
                .configure(problem::extractor_errors)
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(TracingLogger::default())
                .configure(routes::configure)
                .configure(crate::admin::configure)
                .default_service(web::to(problem::not_found))
        })
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(host = %settings.server.host, port, "listening");
        Ok(Self {
            port,
            server: server.run(),
            sweep,
            sweep_interval: Duration::from_secs(settings.ledger.sweep_interval_secs),
            prune,
            prune_interval: Duration::from_secs(settings.throttle.prune_interval_secs),
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server (tests restart the service with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), with the charge sweeper and
    /// the security pruner alongside.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (sweep, prune) = (self.sweep, self.prune);
        let sweeper =
            background::spawn_periodic("charge sweeper", self.sweep_interval, move || {
                let sweep = sweep.clone();
                async move { sweep.execute().await }
            });
        let pruner =
            background::spawn_periodic("security pruner", self.prune_interval, move || {
                let prune = prune.clone();
                async move { prune.execute().await }
            });
        let result = self.server.await;
        sweeper.abort();
        pruner.abort();
        result
    }
}
