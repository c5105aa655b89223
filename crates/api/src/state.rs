//! The request state every handler reaches: the use cases, built once by [`crate::startup`].

/// Shared, immutable request state: every use case of the service.
pub type AppState = application::Services;
