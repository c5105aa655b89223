//! Every use case, wired once. The server, the command line and the tests all build the service
//! through [`Services::new`], from a bundle of ports ([`Ports`]) and plain values ([`Config`]), so
//! no caller wires a use case by hand and none can wire one differently.

use std::{sync::Arc, time::Duration};

use ports::{ChatMetrics, Clock, PasswordHasher, Responder, SecretGenerator, Storage, TokenIssuer};

use crate::{
    ApiKeys, AuditLedger, Authenticate, ChargePolicy, Conversation, History, Login, LoginLimits,
    LoginThrottle, Logout, Models, PruneSecurityRecords, RateLimit, RefreshAccess, Register,
    SendChat, SignupThrottle, SweepExpiredCharges,
    admin::{AdminAuth, AdminChats, AdminServices, AdminUsers, Dashboard},
};

/// The outside world as the use cases need it: one storage adapter implementing every
/// repository port, and the other ports.
pub struct Ports {
    /// Users, chats, the ledger, revocations, throttle counters, admin sessions, settings.
    pub storage: Arc<dyn Storage>,
    /// Password hashing (bcrypt in production).
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access and refresh tokens.
    pub tokens: Arc<dyn TokenIssuer>,
    /// Time and waiting.
    pub clock: Arc<dyn Clock>,
    /// The AI model that answers chats.
    pub responder: Arc<dyn Responder>,
    /// Random secrets (admin session ids, CSRF tokens).
    pub secrets: Arc<dyn SecretGenerator>,
    /// Where chat outcomes are counted ([`ports::NoMetrics`] for none).
    pub metrics: Arc<dyn ChatMetrics>,
}

/// The plain values the use cases are configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prices, the responder's limits and the grace before the sweeper refunds a pending charge.
    pub charge: ChargePolicy,
    /// The system prompt and how much of the conversation the model is sent.
    pub conversation: Conversation,
    /// Whether a refresh also rotates the refresh token.
    pub rotate_refresh_tokens: bool,
    /// Failed-login limits, shared by the API's and the admin panel's login.
    pub login_limits: LoginLimits,
    /// Sign-up limit per client address.
    pub signup_limit: RateLimit,
    /// How long an admin session lives after login.
    pub admin_session_ttl: Duration,
}

/// Every use case of chat-api, ready to call.
pub struct Services {
    /// Sign-up, and superusers for the console.
    pub register: Register,
    /// Username and password for tokens.
    pub login: Login,
    /// Token → user.
    pub authenticate: Arc<Authenticate>,
    /// Refresh token → access token.
    pub refresh: RefreshAccess,
    /// Refresh-token revocation.
    pub logout: Logout,
    /// A user's own API keys.
    pub api_keys: ApiKeys,
    /// A user's own chats and statement.
    pub history: History,
    /// The models on offer (`/v1/models`).
    pub models: Models,
    /// Paid chat turns (shared with the task each chat runs on).
    pub send_chat: Arc<SendChat>,
    /// Refunds charges a crash left pending (run periodically).
    pub sweep: SweepExpiredCharges,
    /// Deletes expired revocations and stale throttle events (run periodically).
    pub prune: PruneSecurityRecords,
    /// Balances checked against the ledger (`check-ledger`).
    pub audit_ledger: AuditLedger,
    /// The failed-login throttle every login form shares (`chat-api throttle clear` lifts its
    /// locks).
    pub login_throttle: Arc<LoginThrottle>,
    /// The admin panel's use cases.
    pub admin: AdminServices,
}

impl Services {
    /// Wires every use case on `ports`.
    pub fn new(ports: Ports, config: Config) -> Self {
        let Ports {
            storage,
            hasher,
            tokens,
            clock,
            responder,
            secrets,
            metrics,
        } = ports;
        let login_throttle = Arc::new(LoginThrottle::new(
            storage.clone(),
            clock.clone(),
            config.login_limits,
        ));
        let signup_throttle =
            SignupThrottle::new(storage.clone(), clock.clone(), config.signup_limit);
        let authenticate = Arc::new(Authenticate::new(
            storage.clone(),
            storage.clone(),
            tokens.clone(),
            clock.clone(),
        ));
        // Throttle events older than the longest window are never counted again.
        let throttle_retention = config.login_limits.window.max(config.signup_limit.window);
        Self {
            register: Register::new(
                storage.clone(),
                hasher.clone(),
                clock.clone(),
                config.charge.pricing,
                signup_throttle,
            ),
            login: Login::new(
                storage.clone(),
                hasher.clone(),
                tokens.clone(),
                clock.clone(),
                login_throttle.clone(),
            ),
            refresh: RefreshAccess::new(
                authenticate.clone(),
                tokens.clone(),
                storage.clone(),
                clock.clone(),
                config.rotate_refresh_tokens,
            ),
            logout: Logout::new(tokens, storage.clone(), clock.clone()),
            authenticate,
            api_keys: ApiKeys::new(storage.clone(), secrets.clone(), clock.clone()),
            history: History::new(storage.clone(), clock.clone()),
            models: Models::new(responder.clone(), &*clock),
            send_chat: Arc::new(
                SendChat::new(
                    storage.clone(),
                    responder,
                    clock.clone(),
                    config.charge,
                    config.conversation,
                )
                .with_metrics(metrics.clone()),
            ),
            sweep: SweepExpiredCharges::new(storage.clone(), clock.clone()).with_metrics(metrics),
            prune: PruneSecurityRecords::new(
                storage.clone(),
                storage.clone(),
                clock.clone(),
                throttle_retention,
                config.login_limits.known_source_for,
            ),
            audit_ledger: AuditLedger::new(storage.clone()),
            login_throttle: login_throttle.clone(),
            admin: AdminServices {
                auth: AdminAuth::new(
                    storage.clone(),
                    storage.clone(),
                    hasher.clone(),
                    secrets,
                    clock.clone(),
                    login_throttle.clone(),
                    config.admin_session_ttl,
                ),
                users: AdminUsers::new(
                    storage.clone(),
                    storage.clone(),
                    storage.clone(),
                    hasher,
                    clock.clone(),
                    login_throttle,
                ),
                chats: AdminChats::new(storage.clone()),
                dashboard: Dashboard::new(storage, clock),
            },
        }
    }
}
