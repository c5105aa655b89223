//! Logging setup: human-readable or JSON lines, filtered by `log.level` (or `RUST_LOG`).
//!
//! In JSON every line is one object: `timestamp`, `level`, `target`, the event's own fields at the
//! top level (the access line's `method`, `route`, `status`, `latency_ms`, `request_id`,
//! `user_id`), and `span`/`spans` with the request span's fields, so every line logged while a
//! request is handled names its `request_id`.

use tracing_subscriber::{EnvFilter, fmt};

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
