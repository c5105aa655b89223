//! Configuration: `config/default.toml` (compiled in, so the binary runs from any directory), then
//! `config/<profile>.toml` from the working directory if present, then environment variables
//! `CHAT_API__<SECTION>__<KEY>` (and `DATABASE_URL`). Settings are a plain value injected into
//! [`crate::Application::build`]; nothing reads configuration from globals.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Every setting of the service.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `development` allows a generated JWT secret; anything else requires an explicit one.
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

/// Prices and the charge protocol.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerSettings {
    /// Tokens for a new account.
    pub signup_grant: i64,
    /// Tokens per chat message.
    pub price_per_message: i64,
    /// Time after the responder timeout before a pending charge may be swept.
    pub charge_grace_secs: u64,
    /// How often the sweeper runs.
    pub sweep_interval_secs: u64,
}

/// The AI model.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponderSettings {
    /// Which responder adapter to wire (`dummy`).
    pub kind: String,
    /// Longest a response may take before the chat fails with 504 (uncharged).
    pub timeout_secs: u64,
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
    /// Sign-ups (accounts created or names found taken) per client IP per window.
    pub signup_per_ip: u64,
    /// How often expired revocations and stale throttle events are deleted.
    pub prune_interval_secs: u64,
}

impl ThrottleSettings {
    /// The login limits for [`application::LoginThrottle`].
    pub fn login_limits(&self) -> application::LoginLimits {
        application::LoginLimits {
            per_pair: self.login_per_pair,
            per_username: self.login_per_username,
            per_ip: self.login_per_ip,
            window: Duration::from_secs(self.login_window_secs),
        }
    }

    /// The sign-up limit for [`application::SignupThrottle`].
    pub fn signup_limit(&self) -> application::RateLimit {
        application::RateLimit {
            max: self.signup_per_ip,
            window: Duration::from_secs(self.signup_window_secs),
        }
    }

    /// The longest window: throttle events older than this are never counted again.
    pub fn longest_window(&self) -> Duration {
        Duration::from_secs(self.login_window_secs.max(self.signup_window_secs))
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter directive.
    pub level: String,
}

/// Configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(#[from] config::ConfigError);

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
    /// Reads the layered configuration for this process.
    pub fn load() -> Result<Self, SettingsError> {
        let environment = environment();
        let profile = std::env::var("CHAT_API__PROFILE").unwrap_or_else(|_| "development".into());
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::with_name(&format!("config/{profile}")).required(false))
            .add_source(environment);
        if std::env::var_os("CHAT_API__DATABASE__URL").is_none() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                builder = builder.set_override("database.url", url)?;
            }
        }
        Ok(builder.build()?.try_deserialize()?)
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
        self.profile == "development"
    }
}

impl DatabaseSettings {
    /// Pool tuning for the storage adapter.
    pub fn pool_settings(&self) -> adapters::storage::PoolSettings {
        adapters::storage::PoolSettings {
            max_connections: self.max_connections.max(1),
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
            busy_timeout: Duration::from_millis(self.busy_timeout_ms),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
        }
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
            (
                settings.responder.kind.as_str(),
                settings.responder.timeout_secs
            ),
            ("dummy", 30)
        );
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
    }

    #[test]
    fn list_and_throttle_keys_come_from_the_environment() {
        let variables = [
            ("CHAT_API__SERVER__TRUSTED_PROXIES", "10.0.0.1,10.1.0.0/16"),
            ("CHAT_API__THROTTLE__LOGIN_PER_PAIR", "3"),
            ("CHAT_API__LOG__LEVEL", "info,chat_api=debug"),
        ];
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(
                environment().source(Some(
                    variables
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )),
            )
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

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut settings = Settings::defaults().unwrap();
        let jwt = "jwt-secret-that-must-never-be-logged-0123456789";
        let db_password = "db-password-never-logged";
        settings.auth.jwt_secret = Some(SecretString::from(jwt.to_owned()));
        settings.database.url =
            SecretString::from(format!("postgres://chat:{db_password}@db.internal/chat"));
        for rendering in [format!("{settings:?}"), format!("{settings:#?}")] {
            assert!(!rendering.contains(jwt), "{rendering}");
            assert!(!rendering.contains(db_password), "{rendering}");
            assert!(rendering.contains("REDACTED"));
        }
    }
}
