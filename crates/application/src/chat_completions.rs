//! `POST /v1/chat/completions`: an OpenAI-style request turned into one chat of the native
//! protocol. The last message is the chat message (stored and charged like a `/chatView/`
//! message); the client's earlier messages are the context, sent after the server's system prompt
//! and bounded in count and size; stored history is not added (the client owns its context).

use domain::ChatMessage;
use ports::{PromptMessage, Role};

use crate::AppError;

/// Most earlier messages a client may send as context.
pub const MAX_CONTEXT_MESSAGES: usize = 100;

/// Most characters the earlier messages may hold together.
pub const MAX_CONTEXT_CHARS: usize = 48_000;

/// Highest sampling temperature accepted (OpenAI's range is 0 to 2).
pub const MAX_TEMPERATURE: f32 = 2.0;

/// One message as the client sent it, its content already reduced to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A client's conversation, validated: the context to send before the message, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConversation {
    /// The client's earlier messages, oldest first.
    pub context: Vec<PromptMessage>,
    /// The last message: the one answered, stored and charged.
    pub message: ChatMessage,
}

impl ClientConversation {
    /// Validates the client's `messages`: at least one; the last from the user and a valid chat
    /// message; the others from a known role (`developer` counts as `system`), free of NUL
    /// characters, at most [`MAX_CONTEXT_MESSAGES`] of them with at most [`MAX_CONTEXT_CHARS`]
    /// characters in all. Every message is reported under the field `messages`.
    pub fn parse(messages: Vec<ClientMessage>) -> Result<Self, AppError> {
        let invalid = |message: String| AppError::invalid_field("messages", message);
        let mut messages = messages;
        let Some(last) = messages.pop() else {
            return Err(invalid("Ensure this field has at least 1 element.".into()));
        };
        if last.role != "user" {
            return Err(invalid(format!(
                "The last message must come from the user, not `{}`.",
                excerpt(&last.role)
            )));
        }
        let message = ChatMessage::parse(&last.content)
            .map_err(|e| invalid(format!("Last message: {}", e.message)))?;
        if messages.len() > MAX_CONTEXT_MESSAGES {
            return Err(invalid(format!(
                "Ensure there are no more than {} messages.",
                MAX_CONTEXT_MESSAGES + 1
            )));
        }
        let mut chars = 0;
        let mut context = Vec::with_capacity(messages.len());
        for earlier in messages {
            let role = match earlier.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(invalid(format!(
                        "Unsupported message role `{}`; use system, developer, user or assistant.",
                        excerpt(other)
                    )));
                }
            };
            if earlier.content.contains('\0') {
                return Err(invalid("Null characters are not allowed.".into()));
            }
            chars += earlier.content.chars().count();
            if chars > MAX_CONTEXT_CHARS {
                return Err(invalid(format!(
                    "Ensure the earlier messages hold no more than {MAX_CONTEXT_CHARS} characters \
                     in all."
                )));
            }
            context.push(PromptMessage::new(role, earlier.content));
        }
        Ok(Self { context, message })
    }
}

/// The answer length a client asked for, bounded by the server's: `None` keeps the server's.
/// Zero is refused; more than the server allows is cut to it (the reservation assumes at most the
/// server's length).
pub fn max_answer_tokens(requested: Option<u32>, server_max: u32) -> Result<u32, AppError> {
    match requested {
        None => Ok(server_max),
        Some(0) => Err(AppError::invalid_field(
            "max_tokens",
            "Ensure this value is greater than or equal to 1.",
        )),
        Some(tokens) => Ok(tokens.min(server_max)),
    }
}

/// A sampling temperature from 0 to [`MAX_TEMPERATURE`].
pub fn temperature(requested: Option<f32>) -> Result<Option<f32>, AppError> {
    match requested {
        Some(t) if !(0.0..=MAX_TEMPERATURE).contains(&t) => Err(AppError::invalid_field(
            "temperature",
            format!("Ensure this value is between 0 and {MAX_TEMPERATURE}."),
        )),
        other => Ok(other),
    }
}

/// Client text repeated in an error, cut short.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: &str) -> ClientMessage {
        ClientMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    fn refused(messages: Vec<ClientMessage>) -> String {
        match ClientConversation::parse(messages) {
            Err(AppError::Validation(errors)) => {
                let (field, text) = errors.first_message().unwrap();
                assert_eq!(field, "messages");
                text.to_owned()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_last_user_message_is_the_chat_and_the_rest_its_context() {
        let conversation = ClientConversation::parse(vec![
            message("developer", "Be brief."),
            message("user", "Hi"),
            message("assistant", "Hello!"),
            message("user", "  How are you?  "),
        ])
        .unwrap();
        assert_eq!(conversation.message.as_str(), "How are you?");
        assert_eq!(
            conversation.context,
            vec![
                PromptMessage::new(Role::System, "Be brief."),
                PromptMessage::new(Role::User, "Hi"),
                PromptMessage::new(Role::Assistant, "Hello!"),
            ]
        );
    }

    #[test]
    fn conversations_that_end_elsewhere_or_break_a_bound_are_refused() {
        assert!(refused(vec![]).contains("at least 1"));
        assert!(refused(vec![message("user", "q"), message("assistant", "a")]).contains("user"));
        assert!(refused(vec![message("user", "   ")]).contains("blank"));
        assert!(refused(vec![message("user", &"x".repeat(4001))]).contains("4000"));
        assert!(refused(vec![message("tool", "{}"), message("user", "q")]).contains("role"));
        assert!(refused(vec![message("system", "a\0b"), message("user", "q")]).contains("Null"));
        let many = (0..=MAX_CONTEXT_MESSAGES)
            .map(|_| message("user", "q"))
            .chain([message("user", "last")])
            .collect();
        assert!(refused(many).contains("101"));
        let bulky = vec![
            message("assistant", &"a".repeat(MAX_CONTEXT_CHARS)),
            message("user", "b"),
            message("user", "q"),
        ];
        assert!(refused(bulky).contains("characters"));
        let at_the_bounds = (0..MAX_CONTEXT_MESSAGES)
            .map(|_| {
                message(
                    "user",
                    &"c".repeat(MAX_CONTEXT_CHARS / MAX_CONTEXT_MESSAGES),
                )
            })
            .chain([message("user", "last")])
            .collect();
        assert!(ClientConversation::parse(at_the_bounds).is_ok());
    }

    #[test]
    fn answer_lengths_are_bounded_by_the_server_and_temperatures_by_openais_range() {
        assert_eq!(max_answer_tokens(None, 512), Ok(512));
        assert_eq!(max_answer_tokens(Some(16), 512), Ok(16));
        assert_eq!(max_answer_tokens(Some(5000), 512), Ok(512));
        assert!(max_answer_tokens(Some(0), 512).is_err());
        assert_eq!(temperature(None), Ok(None));
        assert_eq!(temperature(Some(0.0)), Ok(Some(0.0)));
        assert_eq!(temperature(Some(2.0)), Ok(Some(2.0)));
        for bad in [-0.1, 2.1, f32::NAN] {
            assert!(temperature(Some(bad)).is_err(), "{bad}");
        }
    }
}
