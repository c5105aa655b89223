//! Adapters: the outside world behind the ports.
//!
//! - [`storage`]: diesel on SQLite (default) or PostgreSQL, picked from the database URL.
//! - [`crypto`]: bcrypt password hashing and HS256 JWTs.
//! - [`responder`]: the dummy, an OpenAI-compatible server, and the timeout and concurrency
//!   limit every responder is wrapped in.
//! - [`clock`]: the system clock.

pub mod clock;
pub mod crypto;
pub mod responder;
pub mod storage;

pub use clock::SystemClock;
