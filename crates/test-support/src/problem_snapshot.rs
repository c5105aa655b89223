//! Snapshots of HTTP error responses: the status, the headers a client acts on and the JSON body,
//! with volatile fields redacted, so that a changed error body is a reviewed snapshot diff.
//!
//! Each suite builds a [`record`] from its own response type (actix's in unit tests, reqwest's
//! against the real server) and asserts it with [`crate::assert_problem_snapshot!`], which stores
//! the snapshot beside the calling test in `snapshots/*.snap`.

use serde_json::{Map, Value};

/// The response headers a snapshot records: how to read the body, when to retry, how to
/// authenticate. Absent ones are left out of the record.
pub const HEADERS: &[&str] = &["content-type", "retry-after", "www-authenticate"];

/// Fields that differ between two runs of the same request, redacted wherever they appear in the
/// body: per-request identifiers and times.
pub const VOLATILE_FIELDS: &[&str] = &["request_id", "timestamp", "instance"];

/// What a snapshot records of one response. `header` looks a header up by lower-case name; a body
/// that is not JSON is recorded as text, so the snapshot shows it rather than failing to parse.
pub fn record(status: u16, header: impl Fn(&str) -> Option<String>, body: &[u8]) -> Value {
    let headers: Map<String, Value> = HEADERS
        .iter()
        .filter_map(|name| header(name).map(|value| ((*name).to_owned(), Value::String(value))))
        .collect();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    serde_json::json!({
        "status": status,
        "headers": headers,
        "body": body,
    })
}

/// insta settings that redact [`VOLATILE_FIELDS`] anywhere in the body and keep snapshot files
/// free of the asserting expression (the record is the whole content).
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for field in VOLATILE_FIELDS {
        settings.add_redaction(&format!(".body.**.{field}"), format!("[{field}]"));
    }
    settings.set_omit_expression(true);
    settings
}

/// Asserts a [`record`] against the file snapshot `name` under [`settings`]. A macro, so insta
/// files the snapshot beside the calling test rather than in this crate.
#[macro_export]
macro_rules! assert_problem_snapshot {
    ($name:expr, $record:expr $(,)?) => {
        $crate::problem_snapshot::settings()
            .bind(|| $crate::insta::assert_json_snapshot!($name, $record))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_keeps_the_client_facing_headers_and_parses_the_body() {
        let record = record(
            429,
            |name| match name {
                "retry-after" => Some("42".into()),
                "x-unrelated" => Some("no".into()),
                _ => None,
            },
            br#"{"code":"throttled"}"#,
        );
        assert_eq!(
            record,
            serde_json::json!({
                "status": 429,
                "headers": {"retry-after": "42"},
                "body": {"code": "throttled"},
            })
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_recorded_as_text() {
        assert_eq!(record(404, |_| None, b"nope")["body"], "nope");
    }

    #[test]
    fn volatile_fields_are_redacted_at_any_depth() {
        let record = serde_json::json!({
            "status": 500,
            "headers": {},
            "body": {"request_id": "abc", "nested": {"timestamp": "now"}, "code": "x"},
        });
        crate::assert_problem_snapshot!("volatile_fields_redacted", record);
    }
}
