//! Ports: what the application core asks of storage, crypto, time and the AI model.
//!
//! Each repository method is one atomic operation (a unit of work), so the core never needs to know
//! about transactions. Each trait states its error contract; adapters must honour it, and the
//! storage contract suite in `crates/contract-tests` checks that they do. With the `mocks` feature
//! every trait gets a `Mock*` twin from mockall.

pub mod admin;
pub mod api_keys;
pub mod chats;
pub mod clock;
pub mod error;
pub mod hasher;
pub mod history;
pub mod ledger;
pub mod metrics;
pub mod responder;
pub mod revocations;
pub mod server_settings;
pub mod storage;
pub mod throttle;
pub mod tokens;
pub mod users;

pub use admin::{
    Adjusted, AdminRepository, AdminSession, AdminSessionRepository, ChatFilter, ChatLine,
    DashboardTotals, LedgerLine, NewAdminSession, Page, SecretGenerator, TokenAdjustment,
    UserSummary, Window,
};
pub use api_keys::{ApiKey, ApiKeyId, ApiKeyRepository, CreatedApiKey, KeyOwner, NewApiKey};
pub use chats::{
    ChargeId, ChatRecord, ChatRepository, ChatReservation, FinishedChat, IdempotencyKey,
    IdempotencyKeyState, Reservation, SettledChat, Settlement,
};
pub use clock::Clock;
pub use error::StorageError;
pub use hasher::{HasherError, PasswordHash, PasswordHasher};
pub use history::{HistoryRepository, StatementEntry, StatementPage, StatementQuery};
pub use ledger::{ChatLedgerTotals, LedgerRepository, LedgerTotals};
pub use metrics::{ChatMetrics, NoMetrics, RefundCause};
pub use responder::{
    Completion, CompletionRequest, CompletionStream, PromptMessage, Responder, ResponderError,
    Role, StreamPiece, Usage,
};
pub use revocations::{RefreshTokenRecord, RevocationRepository, Rotation};
pub use server_settings::ServerSettingsRepository;
pub use storage::Storage;
pub use throttle::{
    Admission, Attempt, AttemptTicket, BucketLimit, BucketUsage, ThrottleRepository,
};
pub use tokens::{Claims, IssuedToken, TokenError, TokenIssuer, TokenKind, TokenSubject};
pub use users::{CreatedUser, NewUser, UserCredentials, UserRepository};

#[cfg(feature = "mocks")]
pub use admin::{MockAdminRepository, MockAdminSessionRepository, MockSecretGenerator};
#[cfg(feature = "mocks")]
pub use {
    api_keys::MockApiKeyRepository, chats::MockChatRepository, clock::MockClock,
    hasher::MockPasswordHasher, history::MockHistoryRepository, ledger::MockLedgerRepository,
    metrics::MockChatMetrics, responder::MockResponder, revocations::MockRevocationRepository,
    server_settings::MockServerSettingsRepository, throttle::MockThrottleRepository,
    tokens::MockTokenIssuer, users::MockUserRepository,
};
