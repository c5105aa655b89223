//! Configuration: `config/default.toml` (compiled in, so the binary runs from any directory), then
//! `config/<profile>.toml` from the working directory if present, then environment variables
//! `CHAT_API__<SECTION>__<KEY>` (and `DATABASE_URL`). Settings are a plain value injected into
//! [`crate::Application::builder`]; nothing reads configuration from globals.
//!
//! Every value is checked in one place, [`Settings::validate`], before any subcommand does
//! anything: [`Settings::load`] runs it, and so does the builder (for settings made in code). A
//! bad value is a startup error naming its key, never a silent fallback; closed sets of names
//! (`log.format`, `responder.kind`) are enums, so a typo is refused while reading.

use std::{net::SocketAddr, time::Duration};

use adapters::{
    crypto::BcryptHasher,
    responder::{OpenAiConfig, openai::OpenAiConfigError},
    storage::{DatabaseUrl, PoolSettings},
};
use domain::{Pricing, PricingError, PricingPolicy};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{extract::TrustedProxies, secret::MIN_SECRET_BYTES};

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// The profile that may run on a generated JWT secret.
pub const DEVELOPMENT: &str = "development";

/// Every setting of the service.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `development` allows a generated JWT secret; anything else requires an explicit one. Any
    /// name is allowed (it also selects `config/<profile>.toml`).
    pub profile: String,
    /// HTTP listener.
    pub server: ServerSettings,
    /// Storage.
    pub database: DatabaseSettings,
    /// Passwords and tokens.
    pub auth: AuthSettings,
    /// Prices and the charge protocol.
    pub ledger: LedgerSettings,
    /// The AI model.
    pub responder: ResponderSettings,
    /// Login and sign-up throttling.
    pub throttle: ThrottleSettings,
    /// Logging.
    pub log: LogSettings,
}

/// HTTP listener.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Bind address.
    pub host: String,
    /// Bind port; 0 picks a free one (tests).
    pub port: u16,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Addresses or CIDR blocks of reverse proxies whose `X-Forwarded-For` is believed; empty
    /// (the default) means the socket peer is always the client. In the environment, a
    /// comma-separated list.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Lets the development profile listen on a non-loopback address. Off by default: the
    /// development profile signs tokens with a secret generated into the local database and
    /// marks admin cookies `Secure` only over TLS, which is fine on a laptop and wrong on a
    /// network.
    #[serde(default)]
    pub allow_public_bind_in_development: bool,
    /// How long a stop (SIGTERM, SIGINT) lets in-flight requests finish.
    pub shutdown_timeout_secs: u64,
    /// `IP:port` of a listener of its own for `/metrics`; absent or empty (the default) serves it
    /// on the main listener.
    #[serde(default)]
    pub metrics_addr: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this token>`.
    #[serde(default)]
    pub metrics_token: Option<SecretString>,
}

/// Storage.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://PATH`, `postgres://...` or `postgresql://...`.
    pub url: SecretString,
    /// Pool size.
    pub max_connections: u32,
    /// Longest wait for a pooled connection before 503.
    pub acquire_timeout_ms: u64,
    /// SQLite write-lock wait.
    pub busy_timeout_ms: u64,
    /// PostgreSQL per-statement limit.
    pub statement_timeout_ms: u64,
    /// SQLite: writes (and, apart, reads) that may wait for a connection; beyond, 503.
    pub queue_capacity: u64,
}

/// Passwords and tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// HMAC key for JWTs; at least 32 bytes.
    pub jwt_secret: Option<SecretString>,
    /// bcrypt work factor.
    pub bcrypt_cost: u32,
    /// Access token lifetime.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime.
    pub refresh_ttl_secs: u64,
    /// Tolerated clock skew.
    pub leeway_secs: u64,
    /// Whether `/token/refresh/` also rotates the refresh token.
    pub rotate_refresh_tokens: bool,
}

/// How chats are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingKind {
    /// `price_per_message` per completed answer.
    Flat,
    /// `price_per_1k_prompt_tokens` and `price_per_1k_completion_tokens`.
    PerToken,
}

/// Prices and the charge protocol.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerSettings {
    /// Tokens for a new account.
    pub signup_grant: i64,
    /// `flat` or `per_token`.
    pub pricing: PricingKind,
    /// Tokens per completed chat message (`flat`).
    pub price_per_message: i64,
    /// Tokens per 1000 prompt tokens (`per_token`).
    pub price_per_1k_prompt_tokens: i64,
    /// Tokens per 1000 completion tokens (`per_token`).
    pub price_per_1k_completion_tokens: i64,
    /// Time after the longest an answer may take before a pending charge may be swept.
    pub charge_grace_secs: u64,
    /// How often the sweeper runs.
    pub sweep_interval_secs: u64,
    /// How often the ledger is audited for the `ledger_drift` and `pending_charges` metrics.
    pub audit_interval_secs: u64,
}

/// Which responder adapter answers chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponderKind {
    /// Deterministic answers derived from the message; no model involved.
    Dummy,
    /// An OpenAI-compatible chat completions server (`responder.base_url`, `responder.model`).
    #[serde(rename = "openai")]
    OpenAi,
}

/// Most earlier exchanges `responder.context_messages` may ask to send with each message.
pub const MAX_CONTEXT_MESSAGES: u32 = 100;

/// Most retries `responder.max_retries` may ask for (all stay within `timeout_secs` anyway).
pub const MAX_RETRIES: u32 = 10;

/// The AI model.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponderSettings {
    /// Which responder adapter to wire.
    pub kind: ResponderKind,
    /// `openai`: the API root with `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// `openai`: the model to ask for.
    #[serde(default)]
    pub model: Option<String>,
    /// `openai`: sent as `Authorization: Bearer …` when set (and not empty).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Longest wait for the first byte of an answer (for a whole answer, its end) and, in a
    /// stream, between two chunks; past it the chat fails with 504 (uncharged). Upstream retries
    /// happen within it.
    pub timeout_secs: u64,
    /// Longest any one answer may take, streamed or whole.
    pub max_duration_secs: u64,
    /// Upstream attempts after the first, on 429, 502, 503, 504 and connection errors.
    pub max_retries: u32,
    /// Answers in the making at once per process; more get 503 `responder_busy`.
    pub max_concurrency: u32,
    /// Longest answer the model may write, in its tokens.
    pub max_tokens: u32,
    /// Instructions sent first with every request (none when absent or blank).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// How many of the user's latest completed exchanges are sent before the new message.
    pub context_messages: u32,
    /// The dummy's pause before each word it streams (for demos and tests); 0 answers at once.
    pub dummy_delay_ms: u64,
}

impl ResponderSettings {
    /// The API key, unless absent or empty (an empty environment variable means none).
    pub fn api_key(&self) -> Option<&SecretString> {
        self.api_key
            .as_ref()
            .filter(|key| !key.expose_secret().is_empty())
    }

    /// The system prompt, unless absent or blank.
    pub fn system_prompt(&self) -> Option<&str> {
        self.system_prompt
            .as_deref()
            .filter(|prompt| !prompt.trim().is_empty())
    }

    /// How the conversation is presented to the model.
    pub fn conversation(&self) -> application::Conversation {
        application::Conversation {
            system_prompt: self.system_prompt().map(str::to_owned),
            context_messages: self.context_messages,
        }
    }

    /// The `openai` adapter's configuration; an error names the missing or malformed key.
    pub fn openai_config(&self) -> Result<OpenAiConfig, SettingsError> {
        let required = |key: &'static str, value: &Option<String>| {
            value
                .clone()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    SettingsError::invalid(key, "is required when responder.kind is \"openai\"")
                })
        };
        let config = OpenAiConfig {
            base_url: required("responder.base_url", &self.base_url)?,
            model: required("responder.model", &self.model)?,
            api_key: self.api_key().cloned(),
            first_byte_timeout: Duration::from_secs(self.timeout_secs),
            max_retries: self.max_retries,
        };
        config.validate().map_err(|error| {
            let key = match error {
                OpenAiConfigError::BaseUrl(_) | OpenAiConfigError::Client(_) => {
                    "responder.base_url"
                }
                OpenAiConfigError::Model => "responder.model",
                OpenAiConfigError::ApiKey => "responder.api_key",
            };
            SettingsError::invalid(key, error)
        })?;
        Ok(config)
    }

    /// Checks the responder section.
    fn validate(&self) -> Result<(), SettingsError> {
        at_least("responder.timeout_secs", self.timeout_secs, 1)?;
        at_least(
            "responder.max_duration_secs",
            self.max_duration_secs,
            self.timeout_secs,
        )?;
        at_least("responder.max_tokens", u64::from(self.max_tokens), 1)?;
        at_least(
            "responder.max_concurrency",
            u64::from(self.max_concurrency),
            1,
        )?;
        at_most(
            "responder.max_retries",
            self.max_retries.into(),
            MAX_RETRIES.into(),
        )?;
        at_most(
            "responder.context_messages",
            self.context_messages.into(),
            MAX_CONTEXT_MESSAGES.into(),
        )?;
        if self.kind == ResponderKind::OpenAi {
            self.openai_config()?;
        }
        Ok(())
    }
}

/// Login and sign-up throttling (counted in the database, shared by every process). A limit of 0
/// disables that counter.
#[derive(Debug, Clone, Deserialize)]
pub struct ThrottleSettings {
    /// Sliding window of the login counters.
    pub login_window_secs: u64,
    /// Failed logins per (username, client IP) pair per window.
    pub login_per_pair: u64,
    /// Failed logins per username across all IPs per window.
    pub login_per_username: u64,
    /// Failed logins per client IP across all usernames per window.
    pub login_per_ip: u64,
    /// Sliding window of the sign-up counter.
    pub signup_window_secs: u64,
    /// Sign-ups (valid requests that reached password hashing) per client IP per window.
    pub signup_per_ip: u64,
    /// Days a (username, client IP) pair that logged in successfully stays exempt from the
    /// per-username limit; 0 disables the exemption.
    #[serde(default = "default_known_source_days")]
    pub known_source_days: u64,
    /// How often expired revocations and stale throttle events are deleted.
    pub prune_interval_secs: u64,
}

fn default_known_source_days() -> u64 {
    30
}

/// Longest `throttle.known_source_days` (ten years): anything longer is a typo.
const MAX_KNOWN_SOURCE_DAYS: u64 = 3650;

impl ThrottleSettings {
    /// The login limits for [`application::LoginThrottle`].
    pub fn login_limits(&self) -> application::LoginLimits {
        application::LoginLimits {
            per_pair: self.login_per_pair,
            per_username: self.login_per_username,
            per_ip: self.login_per_ip,
            window: Duration::from_secs(self.login_window_secs),
            known_source_for: Duration::from_secs(
                self.known_source_days.min(MAX_KNOWN_SOURCE_DAYS) * 24 * 60 * 60,
            ),
        }
    }

    /// The sign-up limit for [`application::SignupThrottle`].
    pub fn signup_limit(&self) -> application::RateLimit {
        application::RateLimit {
            max: self.signup_per_ip,
            window: Duration::from_secs(self.signup_window_secs),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter directive.
    pub level: String,
}

/// The configuration is unusable. Each error names the key to fix; none shows a secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The sources could not be read, or a value has the wrong type or an unknown name.
    #[error("invalid configuration")]
    Read(#[from] config::ConfigError),
    /// A value is out of range or malformed.
    #[error("invalid setting {key}: {reason}")]
    Invalid {
        /// The offending key, as written in `config/default.toml`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl SettingsError {
    fn invalid(key: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            key,
            reason: reason.to_string(),
        }
    }
}

/// `Ok` when `value` is at least `min`, otherwise an error naming `key`.
fn at_least(key: &'static str, value: u64, min: u64) -> Result<(), SettingsError> {
    if value >= min {
        Ok(())
    } else {
        Err(SettingsError::invalid(
            key,
            format!("must be at least {min}, got {value}"),
        ))
    }
}

/// `Ok` when `value` is at most `max`, otherwise an error naming `key`.
fn at_most(key: &'static str, value: u64, max: u64) -> Result<(), SettingsError> {
    if value <= max {
        Ok(())
    } else {
        Err(SettingsError::invalid(
            key,
            format!("must be at most {max}, got {value}"),
        ))
    }
}

/// Whether `host` names only this machine: `localhost` or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `CHAT_API__SECTION__KEY` environment source; list-valued keys are comma-separated.
fn environment() -> config::Environment {
    config::Environment::with_prefix("CHAT_API")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("server.trusted_proxies")
}

impl Settings {
    /// Reads the layered configuration for this process and validates it.
    pub fn load() -> Result<Self, SettingsError> {
        let environment = environment();
        let profile = std::env::var("CHAT_API__PROFILE").unwrap_or_else(|_| DEVELOPMENT.into());
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::with_name(&format!("config/{profile}")).required(false))
            .add_source(environment);
        if std::env::var_os("CHAT_API__DATABASE__URL").is_none() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                builder = builder.set_override("database.url", url)?;
            }
        }
        Self::read(builder)
    }

    /// Deserializes and validates layered sources.
    fn read(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
    ) -> Result<Self, SettingsError> {
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The compiled-in defaults alone, ignoring files and environment (tests start from these).
    pub fn defaults() -> Result<Self, SettingsError> {
        Ok(config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?)
    }

    /// Whether this is the development profile.
    pub fn is_development(&self) -> bool {
        self.profile == DEVELOPMENT
    }

    /// Checks every value; the first one out of range is the error, naming its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.server.trusted_proxies()?;
        if self.is_development()
            && !self.server.allow_public_bind_in_development
            && !is_loopback_host(&self.server.host)
        {
            return Err(SettingsError::invalid(
                "server.host",
                format!(
                    "the development profile listens on loopback only, got {:?}: choose a \
                     production profile (CHAT_API__PROFILE, with auth.jwt_secret) or set \
                     server.allow_public_bind_in_development = true \
                     (CHAT_API__SERVER__ALLOW_PUBLIC_BIND_IN_DEVELOPMENT)",
                    self.server.host
                ),
            ));
        }
        self.server.metrics_addr()?;
        self.server.metrics_token()?;
        at_least(
            "server.shutdown_timeout_secs",
            self.server.shutdown_timeout_secs,
            1,
        )?;
        self.database.validate()?;
        self.configured_jwt_secret()?;
        let auth = &self.auth;
        if !BcryptHasher::COSTS.contains(&auth.bcrypt_cost) {
            return Err(SettingsError::invalid(
                "auth.bcrypt_cost",
                format!(
                    "must be between {} and {}, got {}",
                    BcryptHasher::COSTS.start(),
                    BcryptHasher::COSTS.end(),
                    auth.bcrypt_cost
                ),
            ));
        }
        at_least("auth.access_ttl_secs", auth.access_ttl_secs, 1)?;
        at_least("auth.refresh_ttl_secs", auth.refresh_ttl_secs, 1)?;
        let slack = application::refresh::REVOCATION_SLACK;
        let leeway_fits = i64::try_from(auth.leeway_secs)
            .is_ok_and(|leeway| chrono::Duration::seconds(leeway) < slack);
        if !leeway_fits {
            return Err(SettingsError::invalid(
                "auth.leeway_secs",
                format!(
                    "must be below {} (revocations are kept that many seconds past expiry), got {}",
                    slack.num_seconds(),
                    auth.leeway_secs
                ),
            ));
        }
        self.ledger.pricing()?;
        at_least(
            "ledger.sweep_interval_secs",
            self.ledger.sweep_interval_secs,
            1,
        )?;
        at_least(
            "ledger.audit_interval_secs",
            self.ledger.audit_interval_secs,
            1,
        )?;
        self.responder.validate()?;
        let throttle = &self.throttle;
        at_least("throttle.login_window_secs", throttle.login_window_secs, 1)?;
        at_least(
            "throttle.signup_window_secs",
            throttle.signup_window_secs,
            1,
        )?;
        at_least(
            "throttle.prune_interval_secs",
            throttle.prune_interval_secs,
            1,
        )?;
        if throttle.known_source_days > MAX_KNOWN_SOURCE_DAYS {
            return Err(SettingsError::invalid(
                "throttle.known_source_days",
                format!(
                    "must be at most {MAX_KNOWN_SOURCE_DAYS}, got {}",
                    throttle.known_source_days
                ),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| SettingsError::invalid("log.level", e))?;
        Ok(())
    }

    /// The configured JWT secret, if any. A configured one must be at least
    /// [`MIN_SECRET_BYTES`] long; only the development profile may have none (it then uses a
    /// generated one, see [`crate::secret`]).
    pub fn configured_jwt_secret(&self) -> Result<Option<&SecretString>, SettingsError> {
        match &self.auth.jwt_secret {
            Some(secret) if secret.expose_secret().len() < MIN_SECRET_BYTES => {
                Err(SettingsError::invalid(
                    "auth.jwt_secret",
                    format!("must be at least {MIN_SECRET_BYTES} bytes long"),
                ))
            }
            Some(secret) => Ok(Some(secret)),
            None if self.is_development() => Ok(None),
            None => Err(SettingsError::invalid(
                "auth.jwt_secret",
                format!(
                    "profile {:?} requires auth.jwt_secret (CHAT_API__AUTH__JWT_SECRET), at \
                     least {MIN_SECRET_BYTES} bytes",
                    self.profile
                ),
            )),
        }
    }

    /// The plain values the use cases are configured with.
    pub fn services_config(&self) -> Result<application::Config, SettingsError> {
        Ok(application::Config {
            charge: application::ChargePolicy {
                pricing: self.ledger.pricing()?,
                max_answer_tokens: self.responder.max_tokens,
                responder_timeout: Duration::from_secs(self.responder.timeout_secs),
                max_answer_duration: Duration::from_secs(self.responder.max_duration_secs),
                settle_grace: Duration::from_secs(self.ledger.charge_grace_secs),
            },
            conversation: self.responder.conversation(),
            rotate_refresh_tokens: self.auth.rotate_refresh_tokens,
            login_limits: self.throttle.login_limits(),
            signup_limit: self.throttle.signup_limit(),
            admin_session_ttl: crate::admin::SESSION_TTL,
        })
    }
}

impl ServerSettings {
    /// The parsed `server.trusted_proxies`.
    pub fn trusted_proxies(&self) -> Result<TrustedProxies, SettingsError> {
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| SettingsError::invalid("server.trusted_proxies", e))
    }

    /// The parsed `server.metrics_addr`; `None` when absent or empty.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, SettingsError> {
        match self.metrics_addr.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(address) => address.parse().map(Some).map_err(|_| {
                SettingsError::invalid(
                    "server.metrics_addr",
                    format!("must be an IP address and port, like 127.0.0.1:9100, got {address:?}"),
                )
            }),
        }
    }

    /// `server.metrics_token`, at least [`MIN_METRICS_TOKEN_BYTES`] long when set.
    pub fn metrics_token(&self) -> Result<Option<&SecretString>, SettingsError> {
        match &self.metrics_token {
            Some(token) if token.expose_secret().len() < MIN_METRICS_TOKEN_BYTES => {
                Err(SettingsError::invalid(
                    "server.metrics_token",
                    format!("must be at least {MIN_METRICS_TOKEN_BYTES} bytes long"),
                ))
            }
            token => Ok(token.as_ref()),
        }
    }
}

/// Shortest accepted `server.metrics_token`: it guards the metrics from anyone who can reach
/// them, so it must not be guessable.
pub const MIN_METRICS_TOKEN_BYTES: usize = 16;

impl DatabaseSettings {
    /// Checks the database section (also on its own, before storage is opened); returns the
    /// backend `database.url` names.
    pub fn validate(&self) -> Result<DatabaseUrl, SettingsError> {
        at_least("database.max_connections", self.max_connections.into(), 1)?;
        at_least("database.acquire_timeout_ms", self.acquire_timeout_ms, 1)?;
        at_least("database.queue_capacity", self.queue_capacity, 1)?;
        DatabaseUrl::parse(self.url.expose_secret())
            .map_err(|e| SettingsError::invalid("database.url", e))
    }

    /// Pool tuning for the storage adapter.
    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
            busy_timeout: Duration::from_millis(self.busy_timeout_ms),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            queue_capacity: usize::try_from(self.queue_capacity).unwrap_or(usize::MAX),
        }
    }
}

impl LedgerSettings {
    /// The tariff from `ledger.signup_grant`, `ledger.pricing` and the prices that policy uses
    /// (the other policy's prices are not checked).
    pub fn pricing(&self) -> Result<Pricing, SettingsError> {
        let policy = match self.pricing {
            PricingKind::Flat => PricingPolicy::flat(self.price_per_message),
            PricingKind::PerToken => PricingPolicy::per_token(
                self.price_per_1k_prompt_tokens,
                self.price_per_1k_completion_tokens,
            ),
        };
        policy
            .and_then(|policy| Pricing::new(self.signup_grant, policy))
            .map_err(|e| {
                let key = match e {
                    PricingError::NegativeGrant => "ledger.signup_grant",
                    PricingError::FreeMessage => "ledger.price_per_message",
                    PricingError::NegativePromptPrice => "ledger.price_per_1k_prompt_tokens",
                    PricingError::NegativeCompletionPrice | PricingError::FreeTokens => {
                        "ledger.price_per_1k_completion_tokens"
                    }
                };
                SettingsError::invalid(key, e)
            })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn defaults_match_the_documented_table() {
        let settings = Settings::defaults().unwrap();
        assert_eq!(settings.profile, "development");
        assert_eq!(
            (settings.server.host.as_str(), settings.server.port),
            ("127.0.0.1", 8000)
        );
        assert_eq!(
            settings.database.url.expose_secret(),
            "sqlite://chat-api.db"
        );
        assert!(settings.auth.jwt_secret.is_none());
        assert_eq!(settings.auth.bcrypt_cost, 12);
        assert_eq!(
            (
                settings.auth.access_ttl_secs,
                settings.auth.refresh_ttl_secs
            ),
            (300, 86_400)
        );
        assert!(!settings.auth.rotate_refresh_tokens);
        assert_eq!(
            (
                settings.ledger.signup_grant,
                settings.ledger.price_per_message
            ),
            (4000, 100)
        );
        assert_eq!(
            (settings.responder.kind, settings.responder.timeout_secs),
            (ResponderKind::Dummy, 30)
        );
        assert_eq!(settings.responder.dummy_delay_ms, 0);
        assert_eq!(settings.ledger.pricing, PricingKind::Flat);
        assert_eq!(settings.log.format, LogFormat::Text);
        assert_eq!(settings.server.shutdown_timeout_secs, 30);
        assert_eq!(settings.server.metrics_addr().unwrap(), None);
        assert!(settings.server.metrics_token().unwrap().is_none());
        assert_eq!(settings.ledger.audit_interval_secs, 60);
        settings.validate().unwrap();
        assert!(settings.server.trusted_proxies.is_empty());
        let throttle = &settings.throttle;
        assert_eq!(
            (
                throttle.login_per_pair,
                throttle.login_per_username,
                throttle.login_per_ip,
                throttle.login_window_secs
            ),
            (5, 20, 100, 900)
        );
        assert_eq!(
            (throttle.signup_per_ip, throttle.signup_window_secs),
            (20, 3600)
        );
        assert_eq!(throttle.known_source_days, 30);
        assert!(!settings.server.allow_public_bind_in_development);
    }

    #[test]
    fn list_and_throttle_keys_come_from_the_environment() {
        let variables = [
            ("CHAT_API__SERVER__TRUSTED_PROXIES", "10.0.0.1,10.1.0.0/16"),
            ("CHAT_API__THROTTLE__LOGIN_PER_PAIR", "3"),
            ("CHAT_API__LOG__LEVEL", "info,chat_api=debug"),
        ];
        let settings: Settings = defaults_and(&variables)
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(
            settings.server.trusted_proxies,
            vec!["10.0.0.1".to_owned(), "10.1.0.0/16".to_owned()]
        );
        assert_eq!(settings.throttle.login_per_pair, 3);
        assert_eq!(
            settings.log.level, "info,chat_api=debug",
            "other strings stay strings"
        );
    }

    /// The defaults overridden by these environment variables.
    fn defaults_and(
        variables: &[(&str, &str)],
    ) -> config::ConfigBuilder<config::builder::DefaultState> {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(
                environment().source(Some(
                    variables
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )),
            )
    }

    /// [`defaults_and`] read and validated like [`Settings::load`] does; the error with its
    /// causes, as the CLI prints it.
    fn read_with(variables: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::read(defaults_and(variables)).map_err(|error| {
            let mut message = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                message = format!("{message}: {inner}");
                cause = inner.source();
            }
            message
        })
    }

    #[test]
    fn named_values_are_read_as_enums() {
        let settings = read_with(&[
            ("CHAT_API__LOG__FORMAT", "json"),
            ("CHAT_API__RESPONDER__KIND", "dummy"),
        ])
        .unwrap();
        assert_eq!(settings.log.format, LogFormat::Json);
        assert_eq!(settings.responder.kind, ResponderKind::Dummy);
    }

    #[test]
    fn a_typo_in_a_named_value_is_refused_naming_its_key() {
        for (variable, value, key) in [
            ("CHAT_API__LOG__FORMAT", "jsno", "log.format"),
            ("CHAT_API__RESPONDER__KIND", "dumy", "responder.kind"),
        ] {
            let error = read_with(&[(variable, value)]).unwrap_err();
            assert!(
                error.contains(key) && error.contains(value),
                "{variable}={value}: {error}"
            );
        }
    }

    #[test]
    fn every_out_of_range_value_is_refused_naming_its_key() {
        let slack = application::refresh::REVOCATION_SLACK
            .num_seconds()
            .to_string();
        let cases: &[(&str, &str, &str)] = &[
            ("CHAT_API__DATABASE__URL", "mysql://db/chat", "database.url"),
            (
                "CHAT_API__DATABASE__MAX_CONNECTIONS",
                "0",
                "database.max_connections",
            ),
            (
                "CHAT_API__DATABASE__ACQUIRE_TIMEOUT_MS",
                "0",
                "database.acquire_timeout_ms",
            ),
            (
                "CHAT_API__DATABASE__QUEUE_CAPACITY",
                "0",
                "database.queue_capacity",
            ),
            ("CHAT_API__AUTH__BCRYPT_COST", "3", "auth.bcrypt_cost"),
            ("CHAT_API__AUTH__BCRYPT_COST", "32", "auth.bcrypt_cost"),
            (
                "CHAT_API__AUTH__ACCESS_TTL_SECS",
                "0",
                "auth.access_ttl_secs",
            ),
            (
                "CHAT_API__AUTH__REFRESH_TTL_SECS",
                "0",
                "auth.refresh_ttl_secs",
            ),
            ("CHAT_API__AUTH__LEEWAY_SECS", &slack, "auth.leeway_secs"),
            ("CHAT_API__AUTH__JWT_SECRET", "short", "auth.jwt_secret"),
            (
                "CHAT_API__LEDGER__SIGNUP_GRANT",
                "-1",
                "ledger.signup_grant",
            ),
            (
                "CHAT_API__LEDGER__PRICE_PER_MESSAGE",
                "0",
                "ledger.price_per_message",
            ),
            (
                "CHAT_API__LEDGER__SWEEP_INTERVAL_SECS",
                "0",
                "ledger.sweep_interval_secs",
            ),
            (
                "CHAT_API__RESPONDER__TIMEOUT_SECS",
                "0",
                "responder.timeout_secs",
            ),
            (
                "CHAT_API__RESPONDER__MAX_DURATION_SECS",
                "29",
                "responder.max_duration_secs",
            ),
            (
                "CHAT_API__RESPONDER__MAX_CONCURRENCY",
                "0",
                "responder.max_concurrency",
            ),
            (
                "CHAT_API__RESPONDER__MAX_TOKENS",
                "0",
                "responder.max_tokens",
            ),
            (
                "CHAT_API__RESPONDER__MAX_RETRIES",
                "11",
                "responder.max_retries",
            ),
            (
                "CHAT_API__RESPONDER__CONTEXT_MESSAGES",
                "101",
                "responder.context_messages",
            ),
            (
                "CHAT_API__THROTTLE__LOGIN_WINDOW_SECS",
                "0",
                "throttle.login_window_secs",
            ),
            (
                "CHAT_API__THROTTLE__SIGNUP_WINDOW_SECS",
                "0",
                "throttle.signup_window_secs",
            ),
            (
                "CHAT_API__THROTTLE__PRUNE_INTERVAL_SECS",
                "0",
                "throttle.prune_interval_secs",
            ),
            (
                "CHAT_API__SERVER__TRUSTED_PROXIES",
                "10.0.0.0/33",
                "server.trusted_proxies",
            ),
            ("CHAT_API__LOG__LEVEL", "info,chat_api=loud", "log.level"),
            (
                "CHAT_API__THROTTLE__KNOWN_SOURCE_DAYS",
                "3651",
                "throttle.known_source_days",
            ),
            ("CHAT_API__SERVER__HOST", "0.0.0.0", "server.host"),
            (
                "CHAT_API__SERVER__SHUTDOWN_TIMEOUT_SECS",
                "0",
                "server.shutdown_timeout_secs",
            ),
            (
                "CHAT_API__SERVER__METRICS_ADDR",
                "metrics.internal:9100",
                "server.metrics_addr",
            ),
            (
                "CHAT_API__SERVER__METRICS_TOKEN",
                "short-token",
                "server.metrics_token",
            ),
            (
                "CHAT_API__LEDGER__AUDIT_INTERVAL_SECS",
                "0",
                "ledger.audit_interval_secs",
            ),
        ];
        for (variable, value, key) in cases {
            let error = read_with(&[(variable, value)]).unwrap_err();
            assert!(
                error.starts_with(&format!("invalid setting {key}: ")),
                "{variable}={value}: {error}"
            );
        }
    }

    #[test]
    fn per_token_pricing_needs_its_own_prices_and_names_them() {
        let per_token = ("CHAT_API__LEDGER__PRICING", "per_token");
        let error = read_with(&[per_token]).unwrap_err();
        assert!(
            error.starts_with("invalid setting ledger.price_per_1k_completion_tokens: "),
            "{error}"
        );
        let error = read_with(&[
            per_token,
            ("CHAT_API__LEDGER__PRICE_PER_1K_PROMPT_TOKENS", "-1"),
        ])
        .unwrap_err();
        assert!(
            error.starts_with("invalid setting ledger.price_per_1k_prompt_tokens: "),
            "{error}"
        );
        let settings = read_with(&[
            per_token,
            ("CHAT_API__LEDGER__PRICE_PER_1K_PROMPT_TOKENS", "2"),
            ("CHAT_API__LEDGER__PRICE_PER_1K_COMPLETION_TOKENS", "6"),
            ("CHAT_API__LEDGER__PRICE_PER_MESSAGE", "0"),
        ])
        .unwrap();
        assert_eq!(
            settings.ledger.pricing().unwrap().policy(),
            PricingPolicy::per_token(2, 6).unwrap(),
            "the flat price is not used, so not checked"
        );
        let error = read_with(&[("CHAT_API__LEDGER__PRICING", "per_word")]).unwrap_err();
        assert!(error.contains("ledger.pricing"), "{error}");
    }

    #[test]
    fn the_conversation_settings_reach_the_use_case() {
        let settings = read_with(&[
            ("CHAT_API__RESPONDER__SYSTEM_PROMPT", "Be brief."),
            ("CHAT_API__RESPONDER__CONTEXT_MESSAGES", "3"),
        ])
        .unwrap();
        assert_eq!(
            settings.responder.conversation(),
            application::Conversation {
                system_prompt: Some("Be brief.".into()),
                context_messages: 3
            }
        );
        let blank = read_with(&[("CHAT_API__RESPONDER__SYSTEM_PROMPT", "  ")]).unwrap();
        assert_eq!(blank.responder.conversation().system_prompt, None);
    }

    #[test]
    fn a_metrics_listener_and_token_are_read_from_the_environment() {
        let token = "t".repeat(MIN_METRICS_TOKEN_BYTES);
        let settings = read_with(&[
            ("CHAT_API__SERVER__METRICS_ADDR", "127.0.0.1:9100"),
            ("CHAT_API__SERVER__METRICS_TOKEN", &token),
        ])
        .unwrap();
        assert_eq!(
            settings.server.metrics_addr().unwrap(),
            Some("127.0.0.1:9100".parse().unwrap())
        );
        assert_eq!(
            settings
                .server
                .metrics_token()
                .unwrap()
                .map(|t| t.expose_secret().len()),
            Some(MIN_METRICS_TOKEN_BYTES)
        );
        let empty = read_with(&[("CHAT_API__SERVER__METRICS_ADDR", "")]).unwrap();
        assert_eq!(empty.server.metrics_addr().unwrap(), None);
    }

    #[test]
    fn the_leeway_stays_below_the_revocation_slack() {
        let below = application::refresh::REVOCATION_SLACK.num_seconds() - 1;
        let settings = read_with(&[("CHAT_API__AUTH__LEEWAY_SECS", &below.to_string())]);
        assert_eq!(
            settings.map(|s| s.auth.leeway_secs),
            Ok(below.unsigned_abs())
        );
    }

    #[test]
    fn only_development_may_run_without_a_configured_secret() {
        assert!(read_with(&[]).is_ok(), "development generates one");
        let error = read_with(&[("CHAT_API__PROFILE", "production")]).unwrap_err();
        assert!(
            error.contains("auth.jwt_secret") && error.contains("\"production\""),
            "{error}"
        );
        let secret = "s".repeat(MIN_SECRET_BYTES);
        let settings = read_with(&[
            ("CHAT_API__PROFILE", "staging"),
            ("CHAT_API__AUTH__JWT_SECRET", &secret),
        ])
        .unwrap();
        assert_eq!(settings.profile, "staging", "any profile name is allowed");
    }

    #[test]
    fn the_responder_defaults_are_the_dummy_with_documented_limits() {
        let responder = Settings::defaults().unwrap().responder;
        assert_eq!(responder.kind, ResponderKind::Dummy);
        assert_eq!(
            (
                responder.timeout_secs,
                responder.max_duration_secs,
                responder.max_retries,
                responder.max_concurrency,
                responder.max_tokens,
                responder.context_messages,
            ),
            (30, 300, 2, 64, 512, 0)
        );
        assert!(responder.base_url.is_none() && responder.model.is_none());
        assert!(responder.api_key().is_none() && responder.system_prompt().is_none());
    }

    const OPENAI: [(&str, &str); 3] = [
        ("CHAT_API__RESPONDER__KIND", "openai"),
        ("CHAT_API__RESPONDER__BASE_URL", "http://127.0.0.1:8080/v1"),
        ("CHAT_API__RESPONDER__MODEL", "qwen2.5"),
    ];

    #[test]
    fn the_openai_responder_is_configured_from_the_environment() {
        let mut variables = OPENAI.to_vec();
        variables.push(("CHAT_API__RESPONDER__API_KEY", "sk-from-env"));
        variables.push(("CHAT_API__RESPONDER__SYSTEM_PROMPT", "Be brief."));
        let settings = read_with(&variables).unwrap();
        assert_eq!(settings.responder.kind, ResponderKind::OpenAi);
        let config = settings.responder.openai_config().unwrap();
        assert_eq!(
            (config.base_url.as_str(), config.model.as_str()),
            ("http://127.0.0.1:8080/v1", "qwen2.5")
        );
        assert_eq!(
            config.api_key.as_ref().map(ExposeSecret::expose_secret),
            Some("sk-from-env")
        );
        assert_eq!(settings.responder.system_prompt(), Some("Be brief."));
        let mut without_key = OPENAI.to_vec();
        without_key.push(("CHAT_API__RESPONDER__API_KEY", ""));
        let settings = read_with(&without_key).unwrap();
        assert!(settings.responder.api_key().is_none(), "empty means none");
    }

    #[test]
    fn an_unusable_openai_configuration_is_refused_naming_its_key() {
        for (missing, key) in [(1, "responder.base_url"), (2, "responder.model")] {
            let mut variables = OPENAI.to_vec();
            variables.remove(missing);
            let error = read_with(&variables).unwrap_err();
            assert!(
                error.starts_with(&format!("invalid setting {key}: is required")),
                "{error}"
            );
        }
        let secret = "sk-has a space";
        for (variable, value, key) in [
            (
                "CHAT_API__RESPONDER__BASE_URL",
                "ftp://host/v1",
                "responder.base_url",
            ),
            (
                "CHAT_API__RESPONDER__BASE_URL",
                "127.0.0.1:8080",
                "responder.base_url",
            ),
            ("CHAT_API__RESPONDER__API_KEY", secret, "responder.api_key"),
        ] {
            let mut variables = OPENAI.to_vec();
            variables.push((variable, value));
            let error = read_with(&variables).unwrap_err();
            assert!(
                error.starts_with(&format!("invalid setting {key}: ")),
                "{value}: {error}"
            );
            assert!(!error.contains(secret), "{error}");
        }
    }

    #[test]
    fn the_development_profile_listens_on_loopback_only_unless_told_otherwise() {
        for host in ["0.0.0.0", "::", "192.0.2.10", "chat.example.com"] {
            let error = read_with(&[("CHAT_API__SERVER__HOST", host)]).unwrap_err();
            assert!(
                error.starts_with("invalid setting server.host: ")
                    && error.contains("server.allow_public_bind_in_development"),
                "{host}: {error}"
            );
        }
        for host in ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"] {
            assert!(
                read_with(&[("CHAT_API__SERVER__HOST", host)]).is_ok(),
                "{host}"
            );
        }
        let allowed = read_with(&[
            ("CHAT_API__SERVER__HOST", "0.0.0.0"),
            ("CHAT_API__SERVER__ALLOW_PUBLIC_BIND_IN_DEVELOPMENT", "true"),
        ]);
        assert_eq!(allowed.map(|s| s.server.host), Ok("0.0.0.0".to_owned()));
        let secret = "s".repeat(MIN_SECRET_BYTES);
        let production = read_with(&[
            ("CHAT_API__PROFILE", "production"),
            ("CHAT_API__AUTH__JWT_SECRET", &secret),
            ("CHAT_API__SERVER__HOST", "0.0.0.0"),
        ]);
        assert!(production.is_ok(), "other profiles choose freely");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut settings = Settings::defaults().unwrap();
        let jwt = "jwt-secret-that-must-never-be-logged-0123456789";
        let db_password = "db-password-never-logged";
        settings.auth.jwt_secret = Some(SecretString::from(jwt.to_owned()));
        settings.database.url =
            SecretString::from(format!("postgres://chat:{db_password}@db.internal/chat"));
        let api_key = "sk-upstream-key-never-logged";
        settings.responder.api_key = Some(SecretString::from(api_key.to_owned()));
        for rendering in [format!("{settings:?}"), format!("{settings:#?}")] {
            assert!(!rendering.contains(jwt), "{rendering}");
            assert!(!rendering.contains(db_password), "{rendering}");
            assert!(!rendering.contains(api_key), "{rendering}");
            assert!(rendering.contains("REDACTED"));
        }
    }
}
