//! Probes for load balancers and orchestrators. Neither is authenticated or throttled, and neither
//! may be cached.
//!
//! - `GET /healthz`: the process is up and serving HTTP. No database call, so a database outage
//!   never gets a healthy process restarted.
//! - `GET /readyz`: this process should get traffic: it is not shutting down, the database
//!   answers within [`READINESS_TIMEOUT`], and every migration this binary knows is applied. A
//!   schema *ahead* of the binary is ready too, so during a rolling deploy the old replicas keep
//!   serving after the new ones migrated. Otherwise 503 problem+json `not_ready`, whose detail
//!   says which check failed.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use adapters::storage::{Database, DatabaseUrl};
use serde_json::json;

use super::Shutdown;
use crate::problem::ApiError;

/// Longest `/readyz` waits for the database before answering 503.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/readyz` checks.
pub struct Readiness {
    /// The database the service opened itself, and its URL (to keep passwords out of the log);
    /// `None` when storage was injected (its reachability and schema are then its provider's
    /// business).
    pub database: Option<(Database, DatabaseUrl)>,
    /// Whether the service is stopping.
    pub shutdown: Shutdown,
}

/// Why this process should not get traffic now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// It has been asked to stop.
    ShuttingDown,
    /// The database did not answer, or not in time.
    DatabaseUnreachable,
    /// A migration this binary needs is not applied yet.
    MigrationsPending,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ShuttingDown => "The service is shutting down.",
            Self::DatabaseUnreachable => "The database is not reachable.",
            Self::MigrationsPending => {
                "The database schema lacks migrations this version needs (run chat-api migrate)."
            }
        })
    }
}

impl Readiness {
    /// Runs the checks, in order of cost.
    pub async fn check(&self) -> Result<(), NotReady> {
        if self.shutdown.is_stopping() {
            return Err(NotReady::ShuttingDown);
        }
        let Some((database, url)) = &self.database else {
            return Ok(());
        };
        let database = database.clone();
        let current = tokio::time::timeout(
            READINESS_TIMEOUT,
            tokio::task::spawn_blocking(move || database.migrations_current()),
        )
        .await;
        match current {
            Ok(Ok(Ok(true))) => Ok(()),
            Ok(Ok(Ok(false))) => Err(NotReady::MigrationsPending),
            Ok(Ok(Err(cause))) => {
                let cause = url.hide_secrets(&cause.to_string());
                tracing::warn!(%cause, "readiness check: database unavailable");
                Err(NotReady::DatabaseUnreachable)
            }
            Ok(Err(cause)) => {
                tracing::error!(%cause, "readiness check task failed");
                Err(NotReady::DatabaseUnreachable)
            }
            Err(_elapsed) => {
                tracing::warn!(
                    timeout_ms = READINESS_TIMEOUT.as_millis(),
                    "readiness check: database did not answer in time"
                );
                Err(NotReady::DatabaseUnreachable)
            }
        }
    }
}

/// `GET /healthz` → `200 {"status": "ok"}`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz` → `200 {"status": "ready"}`, or 503 `not_ready`.
pub async fn readyz(readiness: web::Data<Readiness>) -> Result<HttpResponse, ApiError> {
    readiness.check().await.map_err(ApiError::NotReady)?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
