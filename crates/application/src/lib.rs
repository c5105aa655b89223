//! Use cases of chat-api. Each module is one thing a user or operator does; each use case holds the
//! ports it needs as `Arc<dyn Port>` and is unit-tested against mockall mocks of them.
//!
//! Every use case fails with [`AppError`], which the HTTP edge maps once to a problem+json body.
//! [`Services::new`] wires them all from a bundle of ports; nothing else constructs them outside
//! tests.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod authenticate;
pub mod chat_completions;
mod credentials;
mod digest;
pub mod error;
pub mod history;
pub mod login;
pub mod logout;
pub mod models;
pub mod pagination;
pub mod prune;
pub mod refresh;
pub mod register;
pub mod send_chat;
pub mod services;
pub mod sweep;
pub mod throttle;

pub use api_keys::{ApiKeys, IssuedApiKey};
pub use audit::{AccountViolation, AuditLedger, LedgerReport};
pub use authenticate::{Authenticate, Caller, Credential};
pub use error::AppError;
pub use history::{History, Statement, StatementRequest};
pub use login::{Login, LoginTokens};
pub use logout::Logout;
pub use models::{Models, ServedModel};
pub use prune::PruneSecurityRecords;
pub use refresh::{RefreshAccess, RefreshedTokens};
pub use register::Register;
pub use send_chat::{
    Answered, ChargePolicy, ChatEvent, ChatOptions, ClientGone, Conversation, EventSink, SendChat,
    SendChatCommand,
};
pub use services::{Config, Ports, Services};
pub use sweep::SweepExpiredCharges;
pub use throttle::{
    ClientAddress, LoginFailure, LoginLimits, LoginThrottle, RateLimit, SignupThrottle,
};

#[cfg(test)]
mod test_support;
