//! What the model is sent, and the token counts a charge is computed from.

use domain::{
    ChatMessage, TokenCounts,
    pricing::{approximate_prompt_tokens, approximate_tokens, prompt_upper_bound},
};
use ports::{ChatRecord, CompletionRequest, PromptMessage, Role, Usage};

/// How a conversation is presented to the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// Instructions sent first, as a system message, when set.
    pub system_prompt: Option<String>,
    /// How many of the user's last completed exchanges are sent before the new message, so the
    /// model remembers the conversation; 0 sends the message alone.
    pub context_messages: u32,
}

impl Conversation {
    /// The system prompt, then each earlier exchange (`context`, oldest first) as a user and an
    /// assistant message, then the new message.
    pub fn request(
        &self,
        context: &[ChatRecord],
        message: &ChatMessage,
        max_tokens: u32,
    ) -> CompletionRequest {
        let earlier = context.iter().flat_map(|exchange| {
            [
                PromptMessage::new(Role::User, exchange.message.as_str()),
                PromptMessage::new(Role::Assistant, exchange.response.as_str()),
            ]
        });
        self.request_after(earlier, message, max_tokens)
    }

    /// The system prompt, then `earlier` (messages a client sent as the conversation so far),
    /// then the new message.
    pub fn request_after(
        &self,
        earlier: impl IntoIterator<Item = PromptMessage>,
        message: &ChatMessage,
        max_tokens: u32,
    ) -> CompletionRequest {
        let system = self
            .system_prompt
            .iter()
            .map(|prompt| PromptMessage::new(Role::System, prompt.as_str()));
        let messages = system
            .chain(earlier)
            .chain([PromptMessage::new(Role::User, message.as_str())])
            .collect();
        CompletionRequest {
            messages,
            max_tokens,
            temperature: None,
        }
    }
}

fn contents(request: &CompletionRequest) -> impl Iterator<Item = &str> {
    request.messages.iter().map(|m| m.content.as_str())
}

/// At least as many tokens as the request's prompt can be (for the reservation).
pub fn upper_bound(request: &CompletionRequest) -> u64 {
    prompt_upper_bound(contents(request))
}

/// The counts a charge is computed from: the upstream's usage when it reported one, otherwise
/// the approximation of the prompt and of the answer's text (what was streamed up to an
/// interruption).
pub fn counts(request: &CompletionRequest, answer: &str, usage: Option<Usage>) -> TokenCounts {
    match usage {
        Some(usage) => TokenCounts {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
        },
        None => TokenCounts {
            prompt: approximate_prompt_tokens(contents(request)),
            completion: approximate_tokens(answer),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use domain::{ChatStatus, Tokens, UserId};

    use super::*;

    fn exchange(message: &str, response: &str) -> ChatRecord {
        ChatRecord {
            id: 1,
            user_id: UserId(1),
            message: message.into(),
            response: response.into(),
            timestamp: Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            status: ChatStatus::Completed,
            tokens_charged: Tokens::new(100),
        }
    }

    #[test]
    fn system_prompt_then_context_oldest_first_then_the_message() {
        let conversation = Conversation {
            system_prompt: Some("Be brief.".into()),
            context_messages: 2,
        };
        let message = ChatMessage::parse("third").unwrap();
        let request = conversation.request(
            &[exchange("first", "one"), exchange("second", "two")],
            &message,
            64,
        );
        let roles_and_texts: Vec<_> = request
            .messages
            .iter()
            .map(|m| (m.role, m.content.as_str()))
            .collect();
        assert_eq!(
            roles_and_texts,
            vec![
                (Role::System, "Be brief."),
                (Role::User, "first"),
                (Role::Assistant, "one"),
                (Role::User, "second"),
                (Role::Assistant, "two"),
                (Role::User, "third"),
            ]
        );
        assert_eq!(request.max_tokens, 64);
    }

    #[test]
    fn without_system_prompt_or_context_the_message_goes_alone() {
        let message = ChatMessage::parse("hi").unwrap();
        let request = Conversation::default().request(&[], &message, 8);
        assert_eq!(request.messages, vec![PromptMessage::new(Role::User, "hi")]);
        assert_eq!(upper_bound(&request), 2 + 4 + 3);
    }

    #[test]
    fn a_clients_messages_come_after_the_system_prompt_and_before_the_message() {
        let conversation = Conversation {
            system_prompt: Some("Be brief.".into()),
            context_messages: 5,
        };
        let message = ChatMessage::parse("and now?").unwrap();
        let earlier = [
            PromptMessage::new(Role::System, "Answer in French."),
            PromptMessage::new(Role::User, "hi"),
            PromptMessage::new(Role::Assistant, "salut"),
        ];
        let request = conversation.request_after(earlier.clone(), &message, 16);
        let mut expected = vec![PromptMessage::new(Role::System, "Be brief.")];
        expected.extend(earlier);
        expected.push(PromptMessage::new(Role::User, "and now?"));
        assert_eq!(request.messages, expected);
    }

    #[test]
    fn usage_wins_over_the_approximation() {
        let message = ChatMessage::parse("12345678").unwrap();
        let request = Conversation::default().request(&[], &message, 8);
        let usage = Usage {
            prompt_tokens: 5,
            completion_tokens: 7,
        };
        assert_eq!(
            counts(&request, "whatever", Some(usage)),
            TokenCounts {
                prompt: 5,
                completion: 7
            }
        );
        assert_eq!(
            counts(&request, "abcdefghi", None),
            TokenCounts {
                prompt: 2 + 4 + 3,
                completion: 3
            }
        );
    }
}
