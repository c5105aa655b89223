//! `/chatView/` and `/v1/chat/completions`: one paid chat turn, following the charge protocol in
//! `ports::chats`, answered whole ([`SendChat::execute`]) or streamed piece by piece
//! ([`SendChat::stream`]).
//!
//! Both start the same way ([`SendChat::begin`]): validate, build the prompt (system prompt, the
//! user's last exchanges or the client's own earlier messages, the new message), reserve the most
//! the answer may cost under the pricing policy, and only then ask the model. Both end the same way: the answer's actual price settled
//! and the rest refunded in one transaction, or, when the model fails, everything refunded.

mod prompt;
mod stream;
mod waiters;

use std::{sync::Arc, time::Duration};

use crate::{AppError, chat_completions, digest::sha256_hex};
use chrono::{DateTime, Utc};
use domain::{ChatMessage, ChatStatus, Pricing, TokenCounts, Tokens, User};
use ports::{
    ChargeId, ChatMetrics, ChatRepository, ChatReservation, Clock, CompletionRequest, FinishedChat,
    IdempotencyKey, IdempotencyKeyState, NoMetrics, PromptMessage, RefundCause, Reservation,
    Responder, ResponderError, SettledChat, Settlement, TokenError,
};

pub use self::{
    prompt::Conversation,
    stream::{ChatEvent, ClientGone, EventSink},
    waiters::MAX_WAITERS_PER_KEY,
};
use waiters::{WaitSlot, Waiters};

/// Longest accepted `Idempotency-Key` header, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// The error for an `Idempotency-Key` header that is not 1 to [`MAX_IDEMPOTENCY_KEY_BYTES`]
/// visible ASCII characters, wherever that is found out (the HTTP edge for bytes that are not
/// text, this use case for the rest).
pub fn invalid_idempotency_key() -> AppError {
    AppError::invalid_field(
        "Idempotency-Key",
        format!("Must be 1–{MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters."),
    )
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_KEY_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// First pause between looks at an idempotency key a concurrent request holds; each pause doubles
/// up to [`MAX_KEY_POLL`].
const FIRST_KEY_POLL: Duration = Duration::from_millis(20);

/// Longest pause between looks at an idempotency key a concurrent request holds.
const MAX_KEY_POLL: Duration = Duration::from_millis(500);

/// Money-related settings of the chat protocol.
#[derive(Debug, Clone, Copy)]
pub struct ChargePolicy {
    /// The grant and how chats are priced.
    pub pricing: Pricing,
    /// Longest answer the responder may write, in model tokens (the per-token reservation
    /// assumes a full one).
    pub max_answer_tokens: u32,
    /// Longest wait for the first byte of an answer, and in a stream for each next piece
    /// (enforced by the responder wrapper in the adapters).
    pub responder_timeout: Duration,
    /// Longest a whole answer may take (enforced by the responder wrapper in the adapters).
    pub max_answer_duration: Duration,
    /// Extra time after the longest an answer may take before the sweeper may refund a pending
    /// charge; covers the settle transaction of a slow but live request.
    pub settle_grace: Duration,
}

impl ChargePolicy {
    /// How long a charge stays pending before the sweeper may refund it: longer than any live
    /// answer can take, whole or streamed.
    fn pending_lifetime(&self) -> chrono::Duration {
        let longest = self.responder_timeout.max(self.max_answer_duration);
        chrono::Duration::from_std(longest + self.settle_grace).unwrap_or(chrono::Duration::MAX)
    }
}

/// One chat request.
#[derive(Debug, Clone)]
pub struct SendChatCommand {
    /// The authenticated sender.
    pub user: User,
    /// The message as sent.
    pub message: String,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// How the request departs from `/chatView/`'s defaults.
    pub options: ChatOptions,
}

/// What an OpenAI-style client may choose beyond its message; the default is `/chatView/`'s
/// behaviour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOptions {
    /// The client's own earlier messages (already bounded, see
    /// [`chat_completions::ClientConversation`]), sent after the system prompt instead of the
    /// user's stored exchanges: the client owns its context. `None` sends the stored ones.
    pub client_context: Option<Vec<PromptMessage>>,
    /// Longest answer the client wants, in model tokens; the server's limit caps it, and the
    /// per-token reservation follows the smaller of the two.
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to [`chat_completions::MAX_TEMPERATURE`].
    pub temperature: Option<f32>,
}

/// A stored answer, with what an OpenAI client is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The stored exchange and the balance it left (for a replay: the balance at the retry).
    pub settled: SettledChat,
    /// The model that answered, as the upstream named it (for a replay: the served model).
    pub model: String,
    /// The token counts the charge was computed from: the upstream's usage, or the server's
    /// approximation when it reported none (for a replay: the approximation of the stored
    /// exchange, since the original counts are not kept with it).
    pub tokens: TokenCounts,
}

/// A chat whose charge is reserved, ready to ask the model.
struct Reserved {
    message: ChatMessage,
    request: CompletionRequest,
    charge: ChargeId,
    amount: Tokens,
}

/// How [`SendChat::begin`] ended.
enum Begun {
    /// The idempotency key already produced this stored exchange; nothing was charged.
    Replay(Answered),
    /// The charge is reserved; the model may be asked.
    Reserved(Reserved),
}

/// Charges for and records one chat exchange.
pub struct SendChat {
    chats: Arc<dyn ChatRepository>,
    responder: Arc<dyn Responder>,
    clock: Arc<dyn Clock>,
    policy: ChargePolicy,
    conversation: Conversation,
    metrics: Arc<dyn ChatMetrics>,
    waiters: Arc<Waiters>,
}

impl SendChat {
    /// Wires the use case.
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        responder: Arc<dyn Responder>,
        clock: Arc<dyn Clock>,
        policy: ChargePolicy,
        conversation: Conversation,
    ) -> Self {
        Self {
            chats,
            responder,
            clock,
            policy,
            conversation,
            metrics: Arc::new(NoMetrics),
            waiters: Arc::default(),
        }
    }

    /// Reports settled chats, refusals for want of tokens and refunds to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn ChatMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reserves the most the answer may cost, asks the responder for the whole answer, then
    /// settles its actual price (refunding the rest) or refunds everything. A retry with the same
    /// idempotency key replays the stored exchange instead of charging again; a concurrent
    /// duplicate waits for the first request and replays its answer, unless
    /// [`MAX_WAITERS_PER_KEY`] requests already wait on that key in this process: then it is
    /// refused at once (`IdempotencyKeyInProgress`).
    pub async fn execute(&self, command: SendChatCommand) -> Result<Answered, AppError> {
        let reserved = match self.begin(command).await? {
            Begun::Replay(answered) => return Ok(answered),
            Begun::Reserved(reserved) => reserved,
        };
        match self.responder.complete(reserved.request.clone()).await {
            Ok(completion) => {
                let text = domain::chat::without_nul(completion.text);
                let tokens = prompt::counts(&reserved.request, &text, completion.usage);
                let settled = self
                    .settle(
                        &reserved,
                        text,
                        ChatStatus::Completed,
                        completion.model.clone(),
                        tokens,
                    )
                    .await?;
                match settled {
                    Settlement::Settled(settled) => Ok(Answered {
                        settled,
                        model: completion.model,
                        tokens,
                    }),
                    Settlement::ChargeExpired => Err(AppError::ResponderTimeout),
                }
            }
            Err(error) => Err(self.refund(reserved.charge, error).await),
        }
    }

    /// Validates the command, builds the prompt and reserves its maximum price (waiting for a
    /// concurrent request holding the same idempotency key, then replaying its answer).
    async fn begin(&self, command: SendChatCommand) -> Result<Begun, AppError> {
        let message = ChatMessage::parse(&command.message)
            .map_err(|e| AppError::invalid_field("message", e.message))?;
        let idempotency_key = command.idempotency_key.map(validate_key).transpose()?;
        let options = command.options;
        let max_tokens =
            chat_completions::max_answer_tokens(options.max_tokens, self.policy.max_answer_tokens)?;
        let temperature = chat_completions::temperature(options.temperature)?;
        let request_fingerprint = fingerprint(&message, options.client_context.as_deref());
        let mut request = match options.client_context {
            Some(earlier) => self
                .conversation
                .request_after(earlier, &message, max_tokens),
            None => {
                let context = match self.conversation.context_messages {
                    0 => Vec::new(),
                    k => self.chats.recent_exchanges(command.user.id, k).await?,
                };
                self.conversation.request(&context, &message, max_tokens)
            }
        };
        request.temperature = temperature;
        let amount = self
            .policy
            .pricing
            .policy()
            .reserve_amount(prompt::upper_bound(&request), request.max_tokens);
        let mut waiting: Option<WaitSlot> = None;
        let charge = loop {
            let now = self.clock.now();
            let reservation = ChatReservation {
                user_id: command.user.id,
                amount,
                now,
                deadline: now + self.policy.pending_lifetime(),
                idempotency: idempotency_key.as_ref().map(|key| IdempotencyKey {
                    key: key.clone(),
                    request_fingerprint: request_fingerprint.clone(),
                    not_before: now - IDEMPOTENCY_KEY_LIFETIME,
                }),
            };
            match self.chats.reserve(reservation).await? {
                Reservation::Reserved(charge) => break charge,
                Reservation::Replay(record) => {
                    let tokens = prompt::counts(&request, &record.response, None);
                    return Ok(Begun::Replay(Answered {
                        settled: SettledChat {
                            record,
                            balance: command.user.tokens,
                        },
                        model: self.responder.model(),
                        tokens,
                    }));
                }
                Reservation::InsufficientTokens { available } => {
                    self.metrics.insufficient_tokens();
                    return Err(AppError::InsufficientTokens {
                        needed: amount,
                        available,
                    });
                }
                // The account was deleted between authentication and now: the same answer as
                // for a token whose account is gone, which is what the client's next request
                // gets anyway. Not 402 (there is no balance) and not 500 (nothing is broken).
                Reservation::UserNotFound => {
                    return Err(AppError::TokenInvalid(TokenError::AccountGone(
                        command.user.id,
                    )));
                }
                Reservation::KeyReused => return Err(AppError::IdempotencyKeyReused),
                Reservation::InProgress => {
                    let key = idempotency_key.as_deref().unwrap_or_default();
                    if waiting.is_none() {
                        waiting = Some(
                            self.waiters
                                .join(command.user.id, key)
                                .ok_or(AppError::IdempotencyKeyInProgress)?,
                        );
                    }
                    self.wait_for_first_request(&command.user, key, now).await?;
                }
            }
        };
        drop(waiting);
        fail::fail_point!("send_chat::after_reserve", |_| {
            // A crash exactly between charge and response, for the crash test.
            std::process::abort()
        });
        Ok(Begun::Reserved(Reserved {
            message,
            request,
            charge,
            amount,
        }))
    }

    /// Stores the exchange with its actual price under the pricing policy; the storage refunds
    /// the rest of the reservation in the same transaction.
    async fn settle(
        &self,
        reserved: &Reserved,
        response: String,
        status: ChatStatus,
        model: String,
        tokens: TokenCounts,
    ) -> Result<Settlement, AppError> {
        let charged = self
            .policy
            .pricing
            .policy()
            .actual_charge(status, tokens, reserved.amount);
        let chat = FinishedChat {
            message: reserved.message.clone(),
            response,
            status,
            charged,
            model,
            tokens,
            at: self.clock.now(),
        };
        let settlement = self.chats.settle(reserved.charge, chat).await?;
        if let Settlement::Settled(settled) = &settlement {
            self.metrics.chat_answered(settled.record.tokens_charged);
        }
        Ok(settlement)
    }

    /// Gives the whole reservation back after the model failed, and says why to the client.
    async fn refund(&self, charge: ChargeId, error: ResponderError) -> AppError {
        let reason = error.to_string();
        match self.chats.refund(charge, &reason, self.clock.now()).await {
            Ok(true) => self.metrics.refunded(RefundCause::of(&error), 1),
            // The sweeper got there first (and counted it).
            Ok(false) => {}
            // The charge stays pending; the sweeper refunds it after its deadline.
            Err(refund_error) => tracing::warn!(%refund_error, "refund deferred to the sweeper"),
        }
        match error {
            ResponderError::Failed(_) => AppError::ResponderFailed,
            ResponderError::Timeout => AppError::ResponderTimeout,
            ResponderError::Busy { retry_after_secs } => {
                AppError::ResponderBusy { retry_after_secs }
            }
        }
    }

    /// Waits for a concurrent request holding the same key, looking at it with growing pauses on
    /// the injected clock; the caller then reserves again and gets the replay (or the key, if the
    /// first request was refunded). Gives up once the first request has outlived its own charge
    /// deadline, by which time the sweeper may refund it. Each look is one storage call that
    /// borrows a pooled connection only for its query, so no connection is held across a pause;
    /// the caller holds a [`WaitSlot`], which bounds the waiters per key.
    async fn wait_for_first_request(
        &self,
        user: &User,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let give_up_at = since + self.policy.pending_lifetime();
        let mut pause = FIRST_KEY_POLL;
        loop {
            let state = self.chats.idempotency_key_state(user.id, key).await?;
            if state != IdempotencyKeyState::InProgress {
                return Ok(());
            }
            match (give_up_at - self.clock.now()).to_std() {
                Ok(left) if !left.is_zero() => self.clock.sleep(pause.min(left)).await,
                _ => return Err(AppError::IdempotencyKeyInProgress),
            }
            pause = (pause * 2).min(MAX_KEY_POLL);
        }
    }
}

fn validate_key(key: String) -> Result<String, AppError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_BYTES
        && key.chars().all(|c| c.is_ascii_graphic());
    if valid {
        Ok(key)
    } else {
        Err(invalid_idempotency_key())
    }
}

/// What makes two requests "the same" for idempotency: the validated message and, when the
/// client sends its own context, every earlier message with its role (NUL, which no text may
/// hold, separates them). Answer length and temperature are not part of it.
fn fingerprint(message: &ChatMessage, client_context: Option<&[PromptMessage]>) -> String {
    let Some(earlier) = client_context else {
        return sha256_hex(message.as_str().as_bytes());
    };
    let mut text = String::new();
    for prompt in earlier {
        text.push_str(prompt.role.as_str());
        text.push('\0');
        text.push_str(&prompt.content);
        text.push('\0');
    }
    text.push_str(message.as_str());
    sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests;
