//! chat-api's outermost layer: the actix-web HTTP edge, the CLI, and the composition root that
//! wires adapters into use cases. Nothing inside the core depends on anything here.

pub mod admin;
mod background;
pub mod cli;
pub mod extract;
#[cfg(test)]
mod log_capture;
pub mod ops;
pub mod problem;
pub(crate) mod routes;
pub mod secret;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use settings::Settings;
pub use startup::{Application, ApplicationBuilder, StartupError};
