//! Chat messages as the responder receives them.

use std::fmt;

use crate::validation::ValidationError;

/// Longest message, in characters after trimming.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// A message of 1–4000 characters, trimmed of surrounding whitespace as DRF's `CharField` does.
/// Inner text is kept verbatim, markup and all: escaping is the renderer's job, not storage's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage(String);

impl ChatMessage {
    /// Validates raw client input.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("This field may not be blank."));
        }
        // DRF's CharField refuses NUL too; PostgreSQL text cannot store it, so accepting it would
        // make the same message succeed on SQLite and fail on PostgreSQL.
        if trimmed.contains('\0') {
            return Err(ValidationError::new("Null characters are not allowed."));
        }
        if trimmed.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ValidationError::new(format!(
                "Ensure this field has no more than {MAX_MESSAGE_CHARS} characters."
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The message text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChatMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_text_verbatim() {
        let message = ChatMessage::parse("  <b>Hi</b>'; DROP TABLE chats;-- \n");
        assert_eq!(
            message.map(|m| m.0),
            Ok("<b>Hi</b>'; DROP TABLE chats;--".to_owned())
        );
    }

    #[test]
    fn rejects_nul_characters_on_every_backend_alike() {
        assert!(ChatMessage::parse("evil\0nul").is_err());
        assert!(ChatMessage::parse("\u{202E}evil\u{200D}text").is_ok());
    }

    #[test]
    fn rejects_blank_messages() {
        assert!(ChatMessage::parse("").is_err());
        assert!(ChatMessage::parse(" \n\t ").is_err());
    }

    #[test]
    fn length_limit_is_four_thousand_characters_after_trimming() {
        assert!(ChatMessage::parse(&"ж".repeat(4000)).is_ok());
        assert!(ChatMessage::parse(&format!("  {}  ", "a".repeat(4000))).is_ok());
        assert!(ChatMessage::parse(&"a".repeat(4001)).is_err());
    }
}
