//! Request ids: the client's `X-Request-Id` when it is a sane token, a fresh UUID v4 otherwise.
//! The id is echoed on every response, carried by the request's tracing span (so every log line of
//! the request has it) and, while the request is handled, readable through [`current`] (so a
//! problem+json body can name it without the error type knowing the request).

use std::future::Future;

use actix_web::http::header::{HeaderName, HeaderValue};

/// The header a request id travels in, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen id accepted; a longer one is replaced, not truncated.
pub const MAX_LEN: usize = 128;

/// One request's id: 1 to [`MAX_LEN`] visible ASCII characters. Kept as a header value, so
/// echoing it costs no copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id if it is 1 to [`MAX_LEN`] visible ASCII characters (no spaces, no control
    /// characters: it goes into log lines as is); otherwise a generated one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value {
            Some(value) if is_acceptable(value.as_bytes()) => Self(value.clone()),
            _ => Self::generate(),
        }
    }

    /// A fresh random id (a hyphenated UUID v4), from the thread's random generator rather than
    /// one system call per request.
    pub fn generate() -> Self {
        let mut text = uuid::Uuid::encode_buffer();
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let text = uuid.hyphenated().encode_lower(&mut text);
        Self(HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII ever gets in, so this never falls back.
        self.0.to_str().unwrap_or("-")
    }

    /// The id as a response header value.
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

fn is_acceptable(bytes: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Runs `future` with `id` as the [`current`] request id.
pub fn scope<F: Future>(id: RequestId, future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(id, future)
}

/// Runs `f` with `id` as the [`current`] request id.
pub fn sync_scope<T>(id: RequestId, f: impl FnOnce() -> T) -> T {
    CURRENT.sync_scope(id, f)
}

/// The id of the request being handled, if this code runs inside one.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: &str) -> RequestId {
        RequestId::from_header(Some(&HeaderValue::from_str(value).unwrap()))
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        for id in ["abc-123", "req_01HZX:9/7+=", &"x".repeat(MAX_LEN)] {
            assert_eq!(from(id).as_str(), id);
        }
    }

    #[test]
    fn a_missing_empty_long_or_odd_id_is_replaced_by_a_uuid() {
        let too_long = "x".repeat(MAX_LEN + 1);
        for id in ["", "two words", "tab\there", too_long.as_str()] {
            let replaced = from(id);
            assert_ne!(replaced.as_str(), id);
            assert!(uuid::Uuid::parse_str(replaced.as_str()).is_ok(), "{id:?}");
        }
        let bytes = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert!(uuid::Uuid::parse_str(RequestId::from_header(Some(&bytes)).as_str()).is_ok());
        let generated = RequestId::from_header(None);
        assert_eq!(
            uuid::Uuid::parse_str(generated.as_str())
                .unwrap()
                .get_version_num(),
            4
        );
        assert_ne!(RequestId::generate(), RequestId::generate());
    }

    #[tokio::test]
    async fn the_current_id_is_visible_inside_its_scope_only() {
        assert_eq!(current(), None);
        let id = from("scoped");
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen, Some(id.clone()));
        assert_eq!(sync_scope(id.clone(), current), Some(id));
        assert_eq!(current(), None);
    }
}
