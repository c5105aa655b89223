//! Responders: the dummy, an OpenAI-compatible server, and the wrappers every responder is
//! composed with (a timeout, a concurrency limit).

pub mod dummy;
pub mod limited;
pub mod openai;
pub mod timeout;

pub use dummy::DummyResponder;
pub use limited::LimitedResponder;
pub use openai::{OpenAiConfig, OpenAiResponder};
pub use timeout::TimeoutResponder;
