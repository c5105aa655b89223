//! Use cases of chat-api. Each module is one thing a user or operator does; each use case holds the
//! ports it needs as `Arc<dyn Port>` and is unit-tested against mockall mocks of them.
//!
//! Every use case fails with [`AppError`], which the HTTP edge maps once to a problem+json body.

pub mod admin;
pub mod authenticate;
mod credentials;
mod digest;
pub mod error;
pub mod login;
pub mod logout;
pub mod prune;
pub mod refresh;
pub mod register;
pub mod send_chat;
pub mod sweep;
pub mod throttle;

pub use authenticate::Authenticate;
pub use error::AppError;
pub use login::{Login, LoginTokens};
pub use logout::Logout;
pub use prune::PruneSecurityRecords;
pub use refresh::{RefreshAccess, RefreshedTokens};
pub use register::Register;
pub use send_chat::{ChargePolicy, SendChat, SendChatCommand};
pub use sweep::SweepExpiredCharges;
pub use throttle::{LoginLimits, LoginThrottle, RateLimit, SignupThrottle};

#[cfg(test)]
mod test_support;
