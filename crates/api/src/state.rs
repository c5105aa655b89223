//! The use cases every handler can reach, built once by [`crate::startup`].

use std::sync::Arc;

use application::{
    Authenticate, Login, LoginThrottle, Logout, RefreshAccess, Register, SendChat, SignupThrottle,
};

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
    /// Refresh-token revocation.
    pub logout: Logout,
    /// Failed-login throttle; shared with any other login form (the admin panel).
    pub login_throttle: Arc<LoginThrottle>,
    /// Sign-up throttle.
    pub signup_throttle: SignupThrottle,
    /// The admin panel's use cases.
    pub admin: crate::admin::AdminServices,
}
