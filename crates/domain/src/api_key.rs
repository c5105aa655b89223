//! API keys: long-lived secrets for programs, each standing for one account.
//!
//! A key is [`API_KEY_PREFIX`] followed by 32 random bytes in unpadded base64url (43 characters).
//! The secret is shown once; only its SHA-256 is stored (a fast hash is the norm for a
//! high-entropy secret: nobody can guess 256 random bits, so there is no dictionary to slow down),
//! plus [`display_prefix`] so that a list of keys can name them.

use chrono::{DateTime, Duration, Utc};

use crate::validation::ValidationError;

/// What every key starts with, so a secret scanner or a person can recognise one, and so the
/// server can tell a key from a JWT before doing any work.
pub const API_KEY_PREFIX: &str = "cak_";

/// Characters after the prefix: 32 random bytes in unpadded base64url.
pub const API_KEY_SECRET_CHARS: usize = 43;

/// How many characters of a key (prefix included) are kept in clear for display.
pub const DISPLAY_PREFIX_CHARS: usize = API_KEY_PREFIX.len() + 8;

/// Live keys one account may hold at once (the next creation is refused).
pub const MAX_LIVE_API_KEYS: u32 = 20;

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Longest lifetime a key may be given, in days (about ten years).
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// Whether `token` has the shape of an API key (the prefix and 43 base64url characters). Anything
/// else presented as a key is refused without a database lookup.
pub fn looks_like_api_key(token: &str) -> bool {
    token.strip_prefix(API_KEY_PREFIX).is_some_and(|secret| {
        secret.len() == API_KEY_SECRET_CHARS
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The part of a key kept in clear to name it in lists (`cak_` and 8 characters: 48 bits, too few
/// to help a guesser, enough to tell one's keys apart).
pub fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_PREFIX_CHARS).collect()
}

/// A key's label, chosen by its owner: trimmed, at most [`MAX_NAME_CHARS`] characters, no
/// control characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Validates raw client input.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new("Control characters are not allowed."));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(ValidationError::new(format!(
                "Ensure this field has no more than {MAX_NAME_CHARS} characters."
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When a key created at `now` to live `days` days expires; `None` (no lifetime) never does.
/// `days` must be 1 to [`MAX_EXPIRES_IN_DAYS`].
pub fn expiry(
    now: DateTime<Utc>,
    days: Option<i64>,
) -> Result<Option<DateTime<Utc>>, ValidationError> {
    match days {
        None => Ok(None),
        Some(days) if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) => {
            Ok(Some(now + Duration::days(days)))
        }
        Some(_) => Err(ValidationError::new(format!(
            "Ensure this value is between 1 and {MAX_EXPIRES_IN_DAYS}."
        ))),
    }
}

/// Whether a key with this expiry may still be used at `now` (it expires at that very instant).
pub fn is_live(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|at| now < at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const KEY: &str = "cak_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

    #[test]
    fn only_the_prefix_and_43_base64url_characters_look_like_a_key() {
        assert!(looks_like_api_key(KEY));
        assert!(looks_like_api_key(&format!("cak_{}-", "-_".repeat(21))));
        for not_a_key in [
            "",
            "cak_",
            &KEY[..KEY.len() - 1],
            &format!("{KEY}A"),
            &KEY.replace("cak_", "cak-"),
            &KEY.replace('a', "+"),
            &KEY.replace('b', "é"),
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        ] {
            assert!(!looks_like_api_key(not_a_key), "{not_a_key:?}");
        }
    }

    #[test]
    fn the_display_prefix_is_the_prefix_and_eight_characters() {
        assert_eq!(display_prefix(KEY), "cak_abcdefgh");
    }

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(ApiKeyName::parse("  ci  ").unwrap().as_str(), "ci");
        assert_eq!(ApiKeyName::parse("").unwrap().as_str(), "");
        assert!(ApiKeyName::parse(&"n".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(ApiKeyName::parse(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(ApiKeyName::parse("a\u{7}b").is_err());
        assert!(ApiKeyName::parse("a\0b").is_err());
    }

    #[test]
    fn lifetimes_are_whole_days_within_bounds_and_end_exclusively() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(expiry(now, None), Ok(None));
        let end = expiry(now, Some(1)).unwrap().unwrap();
        assert_eq!(end, Utc.with_ymd_and_hms(2025, 1, 2, 12, 0, 0).unwrap());
        assert!(expiry(now, Some(MAX_EXPIRES_IN_DAYS)).is_ok());
        for bad in [0, -1, MAX_EXPIRES_IN_DAYS + 1] {
            assert!(expiry(now, Some(bad)).is_err(), "{bad}");
        }
        assert!(is_live(None, now));
        assert!(is_live(Some(end), end - Duration::microseconds(1)));
        assert!(!is_live(Some(end), end));
    }
}
