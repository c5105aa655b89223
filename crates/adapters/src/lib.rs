//! Adapters: the outside world behind the ports.
//!
//! - [`storage`]: diesel on SQLite (default) or PostgreSQL, picked from the database URL.
//! - [`crypto`]: bcrypt password hashing and HS256 JWTs.
//! - [`responder`]: the dummy responder and the timeout every responder is wrapped in.
//! - [`clock`]: the system clock.

pub mod clock;
pub mod crypto;
pub mod responder;
pub mod storage;

pub use clock::SystemClock;
