//! Request bodies: JSON or `application/x-www-form-urlencoded` (as DRF accepts both), at most
//! 64 KiB, read into named fields with DRF-style per-field errors.
//!
//! The size limit is enforced twice: a declared `Content-Length` over it is refused before a byte
//! is read, and actix's limited reader stops a body without one (chunked) once it passes it.
//! Both answer 413 problem+json rather than actix's plain-text error.

use actix_web::{
    FromRequest, HttpRequest,
    body::{self, BodyStream},
    dev::Payload,
    http::header,
};
use domain::FieldErrors;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::problem::ApiError;

/// Largest accepted body. A 4000-character message written entirely as `\uXXXX` escapes is
/// 24 000 bytes plus framing, well inside.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The fields of a JSON object or form body.
#[derive(Debug, Default)]
pub struct FormOrJson(Map<String, Value>);

impl FormOrJson {
    /// The string field `name`; records "required", "null", "not a string" or "null characters"
    /// errors. Numbers, booleans and objects are refused: a wrong type is a client bug worth
    /// reporting. A NUL is refused in every field, as DRF does: PostgreSQL text cannot store one,
    /// and no valid value contains one, so it never gets past the edge.
    pub fn string(&self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        match self.0.get(name) {
            Some(Value::String(value)) if value.contains('\0') => {
                errors.add(name, "Null characters are not allowed.");
                None
            }
            Some(Value::String(value)) => Some(value.clone()),
            Some(Value::Null) => {
                errors.add(name, "This field may not be null.");
                None
            }
            Some(_) => {
                errors.add(name, "Not a valid string.");
                None
            }
            None => {
                errors.add(name, "This field is required.");
                None
            }
        }
    }

    /// The optional boolean field `name`: `None` when absent. Read as DRF's `BooleanField` reads
    /// it, so JSON and form clients can say the same thing: JSON `true`/`false`, the numbers 1
    /// and 0, and the strings `true`, `t`, `yes`, `y`, `on`, `1` and `false`, `f`, `no`, `n`,
    /// `off`, `0` in any letter case. Anything else (null included) records an error.
    pub fn boolean(&self, name: &str, errors: &mut FieldErrors) -> Option<bool> {
        let value = self.0.get(name)?;
        let parsed = match value {
            Value::Bool(flag) => Some(*flag),
            Value::Number(number) => match number.as_f64() {
                Some(1.0) => Some(true),
                Some(0.0) => Some(false),
                _ => None,
            },
            Value::String(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            Value::Null => {
                errors.add(name, "This field may not be null.");
                return None;
            }
            Value::Array(_) | Value::Object(_) => None,
        };
        if parsed.is_none() {
            errors.add(name, "Must be a valid boolean.");
        }
        parsed
    }

    /// The named string fields, or a validation error naming every missing or mistyped one (all
    /// of them, as DRF reports, not just the first).
    pub fn required_strings<const N: usize>(
        &self,
        names: [&str; N],
    ) -> Result<[String; N], ApiError> {
        let mut errors = FieldErrors::new();
        let values = names.map(|name| self.string(name, &mut errors).unwrap_or_default());
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(application::AppError::Validation(errors).into())
        }
    }

    /// The optional string field `name`: `None` when absent or null; other types and NUL
    /// characters record an error (as [`Self::string`]).
    pub fn optional_string(&self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(_) => self.string(name, errors),
        }
    }

    /// The optional integer field `name`: `None` when absent or null. A JSON integer, or the
    /// digits of one in a string (how a form sends it, and as DRF's `IntegerField` reads JSON
    /// too); anything else (fractions, booleans, overflow) records an error.
    pub fn optional_integer(&self, name: &str, errors: &mut FieldErrors) -> Option<i64> {
        let parsed = match self.0.get(name)? {
            Value::Null => return None,
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            errors.add(name, "A valid integer is required.");
        }
        parsed
    }

    /// The field `name` read as `T`, nested structure included (OpenAI's `messages`): absent or
    /// `null` is `None`; a value of another shape records serde's complaint under `name`.
    pub fn typed<T: DeserializeOwned>(&self, name: &str, errors: &mut FieldErrors) -> Option<T> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(value) => match T::deserialize(value) {
                Ok(read) => Some(read),
                Err(e) => {
                    errors.add(name, format!("Invalid value: {e}."));
                    None
                }
            },
        }
    }

    /// Reads `body` as the media type `content_type` names (parameters ignored); what the
    /// extractor does once the body is in memory, public for the parsing benchmark.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Self, ApiError> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => Ok(Self(map)),
                Ok(other) => Err(ApiError::MalformedBody(format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    json_type_name(&other)
                ))),
                Err(error) => Err(ApiError::MalformedBody(format!(
                    "JSON parse error - {error}"
                ))),
            },
            "application/x-www-form-urlencoded" => {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                    .map(|pairs| {
                        Self(
                            pairs
                                .into_iter()
                                .map(|(k, v)| (k, Value::String(v)))
                                .collect(),
                        )
                    })
                    .map_err(|error| ApiError::MalformedBody(format!("Form parse error - {error}")))
            }
            // No body at all: DRF reads that as an empty form, so the fields are reported missing.
            "" if body.is_empty() => Ok(Self::default()),
            _ => Err(ApiError::UnsupportedMediaType(essence)),
        }
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl FromRequest for FormOrJson {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    /// Refuses a cross-site browser form post ([`super::cross_site`]) before reading it.
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if super::cross_site::is_cross_site_form_post(req) {
            return Box::pin(async { Err(ApiError::CrossSiteRequest) });
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or("invalid").to_owned())
            .unwrap_or_default();
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let stream = BodyStream::new(payload.take());
        Box::pin(async move {
            let too_large = ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            };
            if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(too_large);
            }
            let body = body::to_bytes_limited(stream, MAX_BODY_BYTES)
                .await
                .map_err(|_| too_large)?
                .map_err(|e| ApiError::MalformedBody(format!("could not read body: {e}")))?;
            Self::parse(&content_type, &body)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fields(content_type: &str, body: &str) -> Result<FormOrJson, ApiError> {
        FormOrJson::parse(content_type, body.as_bytes())
    }

    #[test]
    fn json_and_form_bodies_give_the_same_fields() {
        let mut errors = FieldErrors::new();
        let json = fields(
            "application/json; charset=utf-8",
            r#"{"username":"jo","extra":1}"#,
        )
        .unwrap();
        let form = fields("application/x-www-form-urlencoded", "username=jo&extra=1").unwrap();
        assert_eq!(json.string("username", &mut errors), Some("jo".into()));
        assert_eq!(form.string("username", &mut errors), Some("jo".into()));
        assert!(errors.is_empty());
    }

    #[test]
    fn optional_fields_may_be_absent_or_null_but_not_mistyped() {
        let json = fields(
            "application/json",
            r#"{"s": "x", "n": null, "i": 30, "t": "7", "f": 1.5, "b": true, "o": {}}"#,
        )
        .unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(json.optional_string("s", &mut errors), Some("x".into()));
        assert_eq!(json.optional_string("n", &mut errors), None);
        assert_eq!(json.optional_string("missing", &mut errors), None);
        assert_eq!(json.optional_integer("i", &mut errors), Some(30));
        assert_eq!(json.optional_integer("t", &mut errors), Some(7));
        assert_eq!(json.optional_integer("n", &mut errors), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(json.optional_string("o", &mut errors), None);
        for name in ["f", "b", "s"] {
            assert_eq!(json.optional_integer(name, &mut errors), None);
        }
        let mut names: Vec<_> = errors.fields().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["b", "f", "o", "s"]);
        let form = fields("application/x-www-form-urlencoded", "i=12&name=ci").unwrap();
        assert_eq!(form.optional_integer("i", &mut errors), Some(12));
    }

    #[test]
    fn typed_fields_read_nested_values_and_name_the_field_they_refuse() {
        let json = fields(
            "application/json",
            r#"{"list": [1, 2], "n": null, "bad": {"a": 1}}"#,
        )
        .unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(json.typed::<Vec<u8>>("list", &mut errors), Some(vec![1, 2]));
        assert_eq!(json.typed::<Vec<u8>>("n", &mut errors), None);
        assert_eq!(json.typed::<Vec<u8>>("missing", &mut errors), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(json.typed::<Vec<u8>>("bad", &mut errors), None);
        let (field, message) = errors.first_message().unwrap();
        assert_eq!(field, "bad");
        assert!(message.contains("invalid type: map"), "{message}");
    }

    #[test]
    fn booleans_read_like_drf_from_json_and_forms() {
        let json = fields(
            "application/json",
            r#"{"a": true, "b": 0, "c": "Yes", "d": "off", "e": "maybe", "f": null, "g": 2}"#,
        )
        .unwrap();
        let mut errors = FieldErrors::new();
        let read: Vec<_> = ["a", "b", "c", "d", "e", "f", "g", "missing"]
            .into_iter()
            .map(|name| json.boolean(name, &mut errors))
            .collect();
        assert_eq!(
            read,
            [
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                None,
                None,
                None,
                None
            ]
        );
        let mut names: Vec<_> = errors.fields().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["e", "f", "g"], "absent is no error");
        let form = fields("application/x-www-form-urlencoded", "stream=true&other=1").unwrap();
        assert_eq!(form.boolean("stream", &mut errors), Some(true));
        assert_eq!(form.boolean("other", &mut errors), Some(true));
    }

    #[test]
    fn a_nul_in_any_string_field_is_refused_whatever_the_body_format() {
        let json = fields("application/json", r#"{"a": "x\u0000y", "b": "ok"}"#).unwrap();
        let form = fields("application/x-www-form-urlencoded", "a=x%00y&b=ok").unwrap();
        for body in [json, form] {
            let mut errors = FieldErrors::new();
            assert_eq!(body.string("a", &mut errors), None);
            assert_eq!(body.string("b", &mut errors), Some("ok".into()));
            assert_eq!(
                errors.fields()["a"],
                vec!["Null characters are not allowed.".to_owned()]
            );
        }
    }

    #[test]
    fn wrong_types_missing_and_null_fields_are_reported_per_field() {
        let body = fields("application/json", r#"{"a": 1, "b": null, "c": ["x"]}"#).unwrap();
        let mut errors = FieldErrors::new();
        for name in ["a", "b", "c", "d"] {
            assert_eq!(body.string(name, &mut errors), None);
        }
        assert_eq!(errors.fields().len(), 4);
        assert_eq!(
            errors.fields()["d"],
            vec!["This field is required.".to_owned()]
        );
    }

    #[test]
    fn non_objects_malformed_json_and_other_media_types_are_refused() {
        assert!(matches!(
            fields("application/json", "[1]"),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            fields("application/json", "{\"a\":"),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            fields("application/json", ""),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            fields("text/plain", "a=b"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            fields("", "{}"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(fields("", "").is_ok_and(|f| f.0.is_empty()));
    }

    /// Any JSON value, nested a few levels.
    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    const CONTENT_TYPES: [&str; 8] = [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded",
        "",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json\u{0};;;===",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Fuzz: any bytes under any content type give fields or a typed error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            content_type in prop::sample::select(CONTENT_TYPES.to_vec()),
            body in prop::collection::vec(any::<u8>(), 0..1024),
        ) {
            if let Ok(parsed) = FormOrJson::parse(content_type, &body) {
                let mut errors = FieldErrors::new();
                let _ = parsed.string("username", &mut errors);
            }
        }

        /// Fuzz: arbitrary content-type header values never panic.
        #[test]
        fn arbitrary_content_types_never_panic(content_type in ".{0,64}", body in ".{0,64}") {
            let _ = FormOrJson::parse(&content_type, body.as_bytes());
        }

        /// Any JSON document parses exactly when it is an object, and string fields read back
        /// (those with a NUL as an error).
        #[test]
        fn json_documents_parse_iff_objects(value in arbitrary_json()) {
            let body = value.to_string();
            let parsed = FormOrJson::parse("application/json", body.as_bytes());
            match &value {
                Value::Object(map) => {
                    let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    for (key, field) in map {
                        let mut errors = FieldErrors::new();
                        let read = parsed.string(key, &mut errors);
                        let expected = field
                            .as_str()
                            .filter(|text| !text.contains('\0'))
                            .map(str::to_owned);
                        prop_assert_eq!(errors.is_empty(), expected.is_some());
                        prop_assert_eq!(read, expected);
                    }
                }
                _ => prop_assert!(matches!(parsed, Err(ApiError::MalformedBody(_)))),
            }
        }

        /// Form bodies round-trip any field names and values, however they must be escaped (values
        /// with a NUL are refused).
        #[test]
        fn form_bodies_round_trip(pairs in prop::collection::btree_map(".{1,12}", ".{0,40}", 0..6)) {
            let body = serde_urlencoded::to_string(pairs.iter().collect::<Vec<_>>())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let parsed = FormOrJson::parse("application/x-www-form-urlencoded", body.as_bytes())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (key, value) in &pairs {
                let mut errors = FieldErrors::new();
                let read = parsed.string(key, &mut errors);
                let expected = Some(value).filter(|value| !value.contains('\0'));
                prop_assert_eq!(read.as_ref(), expected);
            }
        }
    }

    #[test]
    fn required_strings_reports_every_missing_or_mistyped_field_at_once() {
        let body = fields("application/json", r#"{"username": "jo", "password": 5}"#).unwrap();
        assert_eq!(body.required_strings(["username"]).unwrap(), ["jo"]);
        match body.required_strings(["username", "password", "email"]) {
            Err(ApiError::App(application::AppError::Validation(errors))) => {
                let mut names: Vec<_> = errors.fields().keys().cloned().collect();
                names.sort();
                assert_eq!(names, ["email", "password"]);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    /// Extracts a body sent in `chunks` with the given headers, the way a handler would.
    async fn extract(
        headers: &[(header::HeaderName, &str)],
        chunks: Vec<Vec<u8>>,
    ) -> Result<FormOrJson, ApiError> {
        let mut request = actix_web::test::TestRequest::post();
        for (name, value) in headers {
            request = request.insert_header((name.clone(), *value));
        }
        let (request, _) = request.to_http_parts();
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok(actix_web::web::Bytes::from(chunk))),
        );
        let mut payload: Payload = Payload::Stream {
            payload: Box::pin(stream),
        };
        FormOrJson::from_request(&request, &mut payload).await
    }

    const JSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/json");

    #[actix_web::test]
    async fn a_chunked_body_is_read_whole_up_to_the_limit() {
        let chunks = vec![b"{\"message\":".to_vec(), b" \"hi\"}".to_vec()];
        let parsed = extract(&[JSON], chunks).await;
        let mut errors = FieldErrors::new();
        assert_eq!(
            parsed.unwrap().string("message", &mut errors),
            Some("hi".into())
        );
        // Whitespace only: read in full (not refused as too large), then not valid JSON.
        assert!(matches!(
            extract(&[JSON], vec![vec![b' '; MAX_BODY_BYTES]]).await,
            Err(ApiError::MalformedBody(_))
        ));
    }

    #[actix_web::test]
    async fn a_chunked_body_past_the_limit_is_refused_as_too_large() {
        let half = vec![b' '; MAX_BODY_BYTES / 2];
        assert!(matches!(
            extract(&[JSON], vec![half.clone(), half, b" ".to_vec()]).await,
            Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES
            })
        ));
    }

    #[actix_web::test]
    async fn a_declared_length_past_the_limit_is_refused_whatever_is_sent() {
        let too_long = (MAX_BODY_BYTES + 1).to_string();
        let headers = [JSON, (header::CONTENT_LENGTH, too_long.as_str())];
        assert!(matches!(
            extract(&headers, vec![b"{}".to_vec()]).await,
            Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES
            })
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            fields("application/json", &deep),
            Err(ApiError::MalformedBody(_))
        ));
    }
}
