//! The use cases every handler can reach, built once by [`crate::startup`].

use std::sync::Arc;

use application::{Authenticate, Login, RefreshAccess, Register, SendChat};

/// Shared, immutable request state.
pub struct AppState {
    /// Sign-up.
    pub register: Register,
    /// Login.
    pub login: Login,
    /// Token → user.
    pub authenticate: Arc<Authenticate>,
    /// Refresh → access.
    pub refresh: RefreshAccess,
    /// Paid chat turns.
    pub send_chat: Arc<SendChat>,
    /// The admin panel's use cases.
    pub admin: crate::admin::AdminServices,
}
