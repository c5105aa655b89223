//! What the use cases report for operators to count: chats answered, tokens spent, chats refused
//! for want of tokens, refunds by cause. Only outcomes a use case alone knows come through here;
//! requests, latencies and the pool are measured at the edges (HTTP middleware, the responder
//! wrapper, the storage adapter) without the core's help.
//!
//! Every method is a cheap, synchronous, infallible notification: an implementation bumps a
//! counter and returns. [`NoMetrics`] is the default where nothing counts.

use domain::Tokens;

use crate::ResponderError;

/// Why a charge was given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundCause {
    /// The responder answered with an error.
    ResponderFailed,
    /// The responder did not answer in time.
    ResponderTimeout,
    /// The responder was at its concurrency limit.
    ResponderBusy,
    /// The sweeper found the charge still pending past its deadline (a crash, an outage, or a
    /// shutdown that could not wait for the chat).
    Expired,
}

impl RefundCause {
    /// Every cause, for implementations that prepare one counter each.
    pub const ALL: [Self; 4] = [
        Self::ResponderFailed,
        Self::ResponderTimeout,
        Self::ResponderBusy,
        Self::Expired,
    ];

    /// A stable lower-case name (a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResponderFailed => "responder_failed",
            Self::ResponderTimeout => "responder_timeout",
            Self::ResponderBusy => "responder_busy",
            Self::Expired => "expired",
        }
    }

    /// The cause of refunding a charge whose responder call failed with `error`.
    pub fn of(error: &ResponderError) -> Self {
        match error {
            ResponderError::Failed(_) => Self::ResponderFailed,
            ResponderError::Timeout => Self::ResponderTimeout,
            ResponderError::Busy { .. } => Self::ResponderBusy,
        }
    }
}

/// Counts use-case outcomes. Implementations must not block or fail.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait ChatMetrics: Send + Sync {
    /// A chat was answered, stored and its charge settled for `charged` tokens.
    fn chat_answered(&self, charged: Tokens);

    /// A chat was refused because the balance was below its price (a 402).
    fn insufficient_tokens(&self);

    /// `count` pending charges were refunded for `cause`.
    fn refunded(&self, cause: RefundCause, count: u64);
}

/// Counts nothing: the default wherever no metrics are wired (the command line, unit tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl ChatMetrics for NoMetrics {
    fn chat_answered(&self, _charged: Tokens) {}

    fn insufficient_tokens(&self) {}

    fn refunded(&self, _cause: RefundCause, _count: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_responder_error_has_its_refund_cause() {
        assert_eq!(
            RefundCause::of(&ResponderError::Failed("boom".into())),
            RefundCause::ResponderFailed
        );
        assert_eq!(
            RefundCause::of(&ResponderError::Timeout),
            RefundCause::ResponderTimeout
        );
        assert_eq!(
            RefundCause::of(&ResponderError::Busy {
                retry_after_secs: 1
            }),
            RefundCause::ResponderBusy
        );
        let names: std::collections::BTreeSet<_> =
            RefundCause::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), RefundCause::ALL.len());
    }
}
