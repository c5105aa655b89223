//! When to try an upstream request again, and how long to wait first.
//!
//! Only answers that say "not now" are retried: 429, 502, 503, 504 and requests that got no
//! answer at all (refused or dropped connections). Waits grow exponentially with full jitter, so
//! many clients retrying at once spread out; an upstream's `Retry-After` is honoured instead.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The first backoff; each later one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The longest backoff between two attempts (a `Retry-After` may ask for more).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether an upstream answer with this status is worth another attempt.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The wait before retry number `retry` (0 for the first retry): a random duration up to an
/// exponentially growing cap, never zero.
pub fn backoff(retry: u32) -> Duration {
    let cap = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(retry))
        .min(MAX_BACKOFF);
    let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(cap_ms / 2..=cap_ms))
}

/// The wait a `Retry-After` header asks for: delay seconds, or an HTTP date (a date already past
/// asks for no wait). `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_up_to_its_cap() {
        for retry in 0..20 {
            let cap = FIRST_BACKOFF
                .saturating_mul(2u32.saturating_pow(retry))
                .min(MAX_BACKOFF);
            for _ in 0..50 {
                let wait = backoff(retry);
                assert!(wait >= cap / 2 && wait <= cap, "retry {retry}: {wait:?}");
            }
        }
        assert!(backoff(0) <= Duration::from_millis(200));
        assert!(backoff(30) >= Duration::from_millis(2500));
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn only_statuses_that_mean_not_now_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422, 500, 501] {
            assert!(!retryable_status(status), "{status}");
        }
    }
}
