//! The password policy (see `docs/api.md`). A [`PlainPassword`] exists only after the policy passed, so
//! a hasher can never be handed a password bcrypt would silently truncate.

use std::fmt;

use crate::{username::Username, validation::ValidationError};

/// Shortest accepted password, in characters (Django's `MinimumLengthValidator`).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in UTF-8 bytes: bcrypt ignores everything after byte 72.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A password that satisfies the policy for a given username. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainPassword(String);

impl PlainPassword {
    /// Checks a new password (registration, reset) against every rule.
    pub fn parse(raw: &str, username: &Username) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new("This field may not be blank."));
        }
        if raw.contains('\0') {
            // As DRF refuses them: no client can type one, and C-string tools would cut there.
            return Err(ValidationError::new("Null characters are not allowed."));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(ValidationError::new(format!(
                "This password is too long. It must contain at most {MAX_PASSWORD_BYTES} bytes."
            )));
        }
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(format!(
                "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
            )));
        }
        if raw.chars().all(|c| c.is_numeric()) {
            return Err(ValidationError::new("This password is entirely numeric."));
        }
        if raw.to_lowercase() == username.as_str().to_lowercase() {
            return Err(ValidationError::new(
                "The password is too similar to the username.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password typed at login: only bcrypt's hard limit applies, since the policy may have
    /// changed since the account was made and a wrong password must look like any other.
    pub fn for_login(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new("This field may not be blank."));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(ValidationError::new(format!(
                "This password is too long. It must contain at most {MAX_PASSWORD_BYTES} bytes."
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn john() -> Username {
        Username::from_trusted("john_doe".to_owned())
    }

    fn message(raw: &str) -> Option<String> {
        PlainPassword::parse(raw, &john()).err().map(|e| e.message)
    }

    #[test]
    fn accepts_a_reasonable_password() {
        assert_eq!(message("password123"), None);
        assert_eq!(message("ünïcödé!"), None);
    }

    #[test]
    fn rejects_short_numeric_and_username_passwords() {
        assert!(message("short1").is_some_and(|m| m.contains("too short")));
        assert!(message("12345678").is_some_and(|m| m.contains("entirely numeric")));
        assert!(message("JOHN_DOE").is_some_and(|m| m.contains("similar")));
        assert!(message("").is_some_and(|m| m.contains("blank")));
    }

    #[test]
    fn a_new_password_with_a_nul_is_refused() {
        assert_eq!(
            message("pass\0word-1"),
            Some("Null characters are not allowed.".to_owned())
        );
    }

    #[test]
    fn byte_limit_is_bcrypts_seventy_two_bytes() {
        assert_eq!(message(&"a".repeat(72)), None);
        assert!(message(&"a".repeat(73)).is_some_and(|m| m.contains("too long")));
        // 25 three-byte characters are 75 bytes although only 25 characters.
        assert!(message(&"€".repeat(25)).is_some_and(|m| m.contains("too long")));
    }

    #[test]
    fn login_passwords_skip_the_policy_but_not_the_byte_limit() {
        assert!(PlainPassword::for_login("1").is_ok());
        assert!(PlainPassword::for_login(&"a".repeat(73)).is_err());
        assert!(PlainPassword::for_login("").is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let password = PlainPassword::for_login("hunter2hunter2").map(|p| format!("{p:?}"));
        assert_eq!(password, Ok("PlainPassword(***)".to_owned()));
    }
}
