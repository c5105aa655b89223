//! Responders: the dummy of today, and the timeout wrapped around any responder.

pub mod dummy;
pub mod timeout;

pub use dummy::DummyResponder;
pub use timeout::TimeoutResponder;
