//! The pure core of chat-api: values that are valid by construction and the arithmetic of the
//! token ledger. Nothing here does I/O, so every rule is unit- and property-tested in isolation.

pub mod api_key;
pub mod chat;
pub mod ledger;
pub mod password;
pub mod pricing;
pub mod tokens;
pub mod user;
pub mod username;
pub mod validation;

pub use api_key::ApiKeyName;
pub use chat::{ChatMessage, ChatStatus};
pub use ledger::{LedgerEntryKind, LedgerError};
pub use password::PlainPassword;
pub use pricing::{Pricing, PricingError, PricingPolicy, TokenCounts};
pub use tokens::Tokens;
pub use user::{AccountRole, User, UserId};
pub use username::{Username, UsernameKey};
pub use validation::{FieldErrors, ValidationError};
