//! Usernames follow Django's `UnicodeUsernameValidator` so every account of the original service
//! stays valid, and are unique case-insensitively through [`UsernameKey`].

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::validation::ValidationError;

/// Longest username Django's `AbstractUser` accepts, in characters.
pub const MAX_USERNAME_CHARS: usize = 150;

/// A username that passed the policy: 1–150 Unicode letters, digits and `@ . + - _`, NFKC-normalised
/// (as Django's `normalize_username` does) with surrounding whitespace trimmed (as DRF does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validates raw client input.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let normalized: String = raw.trim().nfkc().collect();
        if normalized.is_empty() {
            return Err(ValidationError::new("This field may not be blank."));
        }
        if normalized.chars().count() > MAX_USERNAME_CHARS {
            return Err(ValidationError::new(format!(
                "Ensure this field has no more than {MAX_USERNAME_CHARS} characters."
            )));
        }
        if !normalized.chars().all(is_username_char) {
            return Err(ValidationError::new(
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            ));
        }
        Ok(Self(normalized))
    }

    /// Rebuilds a username read back from storage, where it was validated on the way in.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The username as the user typed it (after normalisation).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that decides uniqueness and lookups.
    pub fn key(&self) -> UsernameKey {
        UsernameKey::of(&self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Case-insensitive identity of a username: NFKC, then lowercase. Computed here, in Rust, and stored
/// under a unique index so SQLite and PostgreSQL agree on what "the same name" means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsernameKey(String);

impl UsernameKey {
    /// Computes the key of any text, valid username or not (login looks up whatever was typed).
    pub fn of(raw: &str) -> Self {
        Self(raw.trim().nfkc().collect::<String>().to_lowercase())
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's Unicode TR39 skeleton: two names with equal skeletons look alike (Cyrillic
    /// "аdmin" and Latin "admin", "paypa1" and "paypal"), so registration refuses the second one.
    /// Stored under a unique index beside the key, which makes the refusal race-free; equal keys
    /// always have equal skeletons.
    pub fn skeleton(&self) -> String {
        unicode_security::skeleton(&self.0).collect()
    }
}

/// Python's `\w` (letters, digits, underscore) plus `@ . + -`.
fn is_username_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_django_usernames() {
        for name in [
            "john_doe",
            "a",
            "user@example.com",
            "x.y+z-w",
            "Zoë",
            "用户",
            "١٢٣",
        ] {
            assert_eq!(
                Username::parse(name).map(|u| u.0),
                Ok(name.to_owned()),
                "{name}"
            );
        }
    }

    #[test]
    fn trims_surrounding_whitespace_like_drf() {
        assert_eq!(
            Username::parse("  john \n").map(|u| u.0),
            Ok("john".to_owned())
        );
    }

    #[test]
    fn rejects_blank_usernames() {
        for name in ["", "   ", "\t\n"] {
            assert_eq!(
                Username::parse(name).map_err(|e| e.message),
                Err("This field may not be blank.".to_owned())
            );
        }
    }

    #[test]
    fn rejects_characters_outside_the_validator() {
        for name in [
            "john doe",
            "john;",
            "<script>",
            "a'b",
            "x/y",
            "null\0byte",
            "tab\tin",
            "é\u{301}x",
        ] {
            assert!(
                Username::parse(name).is_err(),
                "{name:?} should be rejected"
            );
        }
    }

    #[test]
    fn length_limit_counts_characters_not_bytes() {
        assert!(Username::parse(&"é".repeat(150)).is_ok());
        assert!(Username::parse(&"a".repeat(151)).is_err());
    }

    #[test]
    fn normalises_compatibility_characters() {
        // U+FB01 LATIN SMALL LIGATURE FI becomes "fi" under NFKC, as in Django.
        assert_eq!(
            Username::parse("\u{FB01}sh").map(|u| u.0),
            Ok("fish".to_owned())
        );
    }

    #[test]
    fn key_ignores_case_and_compatibility_forms() {
        let a = Username::parse("John_Doe").map(|u| u.key());
        let b = Username::parse("jOHN_dOE").map(|u| u.key());
        assert_eq!(a, b);
        assert_eq!(UsernameKey::of("ＪＯＨＮ").as_str(), "john");
        assert_ne!(UsernameKey::of("john"), UsernameKey::of("johnny"));
    }

    #[test]
    fn confusable_names_share_a_skeleton_and_distinct_ones_do_not() {
        let skeleton = |name: &str| UsernameKey::of(name).skeleton();
        for (original, lookalike) in [
            ("admin", "\u{430}dmin"),         // Cyrillic a
            ("admin", "ADMIN"),               // case, through the key
            ("paypal", "paypa1"),             // digit one for l
            ("modern", "rnodern"),            // r n for m
            ("Zoë", "Zoe\u{308}"),            // ë composed or decomposed
            ("POP", "\u{420}\u{41e}\u{420}"), // Cyrillic capitals, lowercased by the key
        ] {
            assert_eq!(
                skeleton(original),
                skeleton(lookalike),
                "{original} / {lookalike}"
            );
        }
        for (one, other) in [("admin", "admins"), ("alice", "bob"), ("user_1", "user_2")] {
            assert_ne!(skeleton(one), skeleton(other), "{one} / {other}");
        }
    }
}
