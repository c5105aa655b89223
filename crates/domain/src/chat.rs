//! Chat messages as the responder receives them, and how a stored exchange ended.

use std::{fmt, str::FromStr};

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

/// Model text as every backend can store it: PostgreSQL text cannot hold NUL characters, so they
/// are removed (from each streamed piece too, so what a client is sent equals what is stored).
pub fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    }
}

/// How a stored exchange ended. Stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatStatus {
    /// The model finished its answer.
    Completed,
    /// The client went away while the answer was streaming; the response holds what was
    /// written until then.
    Interrupted,
}

impl ChatStatus {
    /// Every status, for exhaustive tests.
    pub const ALL: [ChatStatus; 2] = [Self::Completed, Self::Interrupted];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for ChatStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chat status {0:?}")]
pub struct UnknownChatStatus(pub String);

impl FromStr for ChatStatus {
    type Err = UnknownChatStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownChatStatus(s.to_owned()))
    }
}

impl TryFrom<String> for ChatStatus {
    type Error = UnknownChatStatus;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        stored.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_removed_from_model_text() {
        assert_eq!(without_nul("a\0b\0".into()), "ab");
        assert_eq!(without_nul("plain".into()), "plain");
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in ChatStatus::ALL {
            assert_eq!(status.as_str().parse::<ChatStatus>(), Ok(status));
        }
        assert!("failed".parse::<ChatStatus>().is_err());
    }

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
