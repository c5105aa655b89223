use std::sync::Mutex;

use domain::{PricingPolicy, Tokens, UserId};
use futures_executor::block_on;
use ports::{
    ChargeId, ChatRecord, Completion, MockChatRepository, MockResponder, PromptMessage, Role,
    SettledChat, Usage,
};
use uuid::Uuid;

use super::*;
use crate::test_support::{ManualClock, fixed_clock, noon, user};

pub(super) const CHARGE: ChargeId = ChargeId(Uuid::nil());

/// The seed's flat 100 per message; 30 s responder timeout, 50 s longest answer, 30 s grace.
pub(super) fn policy() -> ChargePolicy {
    ChargePolicy {
        pricing: Pricing::DEFAULT,
        max_answer_tokens: 512,
        responder_timeout: Duration::from_secs(30),
        max_answer_duration: Duration::from_secs(50),
        settle_grace: Duration::from_secs(30),
    }
}

/// One token costs one token: reservations and charges equal token counts.
pub(super) fn per_token_policy() -> ChargePolicy {
    ChargePolicy {
        pricing: Pricing::new(4000, PricingPolicy::per_token(1000, 1000).unwrap()).unwrap(),
        ..policy()
    }
}

pub(super) fn record(message: &str, response: &str) -> ChatRecord {
    ChatRecord {
        id: 7,
        user_id: UserId(1),
        message: message.to_owned(),
        response: response.to_owned(),
        timestamp: noon(),
        status: domain::ChatStatus::Completed,
        tokens_charged: Tokens::new(100),
    }
}

/// Storage that settles whatever it is given, as chat 7 with 3900 tokens left.
pub(super) fn settles_as_asked(chat: FinishedChat) -> Result<Settlement, ports::StorageError> {
    Ok(Settlement::Settled(SettledChat {
        record: ChatRecord {
            status: chat.status,
            tokens_charged: chat.charged,
            ..record(chat.message.as_str(), &chat.response)
        },
        balance: Tokens::new(3900),
    }))
}

/// Storage whose reservations all succeed, as [`CHARGE`].
pub(super) fn reserving() -> MockChatRepository {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .returning(|_| Ok(Reservation::Reserved(CHARGE)));
    chats
}

pub(super) fn command(message: &str, key: Option<&str>) -> SendChatCommand {
    SendChatCommand {
        user: user(1, 4000),
        message: message.to_owned(),
        idempotency_key: key.map(str::to_owned),
        options: ChatOptions::default(),
    }
}

pub(super) fn responder_answering(result: Result<String, ResponderError>) -> MockResponder {
    let mut responder = MockResponder::new();
    responder
        .expect_complete()
        .withf(|request| {
            request.messages.last().map(|m| m.role) == Some(Role::User) && request.max_tokens == 512
        })
        .times(1)
        .return_once(move |_| {
            result.map(|text| Completion {
                text,
                model: "mock".into(),
                usage: None,
            })
        });
    responder
}

/// A responder that must not be asked; a replay still names its model.
pub(super) fn silent_responder() -> MockResponder {
    let mut responder = MockResponder::new();
    responder.expect_complete().never();
    responder.expect_model().return_const("served".to_owned());
    responder
}

fn send(
    chats: MockChatRepository,
    responder: MockResponder,
    cmd: SendChatCommand,
) -> Result<ChatRecord, AppError> {
    send_at(fixed_clock(), chats, responder, cmd)
}

fn send_at(
    clock: Arc<dyn Clock>,
    chats: MockChatRepository,
    responder: MockResponder,
    cmd: SendChatCommand,
) -> Result<ChatRecord, AppError> {
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        clock,
        policy(),
        Conversation::default(),
    );
    block_on(send_chat.execute(cmd)).map(|answered| answered.settled.record)
}

/// "Hello" with the key `key-1`, on a clock that only the use case's sleeps move; returns the
/// clock to read how long the use case waited.
fn send_keyed_on_manual_clock(
    chats: MockChatRepository,
    responder: MockResponder,
) -> (Result<ChatRecord, AppError>, Arc<ManualClock>) {
    let clock = ManualClock::at_noon();
    let result = send_at(
        clock.clone(),
        chats,
        responder,
        command("Hello", Some("key-1")),
    );
    (result, clock)
}

/// Storage whose key `key-1` reads as `states` in turn (the last one for ever after).
fn key_states(chats: &mut MockChatRepository, states: Vec<IdempotencyKeyState>) {
    let states = Mutex::new(states.into_iter().rev().collect::<Vec<_>>());
    chats
        .expect_idempotency_key_state()
        .withf(|user, key| *user == UserId(1) && key == "key-1")
        .returning(move |_, _| {
            let mut states = states.lock().unwrap();
            Ok(if states.len() > 1 {
                states.pop().unwrap()
            } else {
                states[0]
            })
        });
}

#[test]
fn reserves_the_price_asks_the_responder_and_settles() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .withf(|r| {
            r.user_id == UserId(1)
                && r.amount == Tokens::new(100)
                && r.deadline == noon() + chrono::Duration::seconds(50 + 30)
                && r.idempotency.is_none()
        })
        .times(1)
        .returning(|_| Ok(Reservation::Reserved(CHARGE)));
    chats
        .expect_settle()
        .withf(|charge, chat| {
            *charge == CHARGE
                && chat.message.as_str() == "Hello"
                && chat.response == "Hi!"
                && chat.status == ChatStatus::Completed
                && chat.charged == Tokens::new(100)
                && chat.model == "mock"
                && chat.at == noon()
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    chats.expect_refund().never();
    let result = send(
        chats,
        responder_answering(Ok("Hi!".into())),
        command("  Hello ", None),
    );
    assert_eq!(result, Ok(record("Hello", "Hi!")));
}

/// Reserve the prompt estimate plus a full answer, settle what the usage says.
#[test]
fn per_token_reserves_the_maximum_and_settles_the_reported_usage() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .withf(|r| r.amount == Tokens::new(5 + 4 + 3 + 512))
        .times(1)
        .returning(|_| Ok(Reservation::Reserved(CHARGE)));
    chats
        .expect_settle()
        .withf(|_, chat| {
            chat.charged == Tokens::new(6 + 15)
                && chat.tokens
                    == domain::TokenCounts {
                        prompt: 6,
                        completion: 15,
                    }
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let mut responder = MockResponder::new();
    responder.expect_complete().times(1).return_once(|_| {
        Ok(Completion {
            text: "answer".into(),
            model: "mock".into(),
            usage: Some(Usage {
                prompt_tokens: 6,
                completion_tokens: 15,
            }),
        })
    });
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        per_token_policy(),
        Conversation::default(),
    );
    let answered = block_on(send_chat.execute(command("Hello", None))).unwrap();
    assert_eq!(answered.settled.record.tokens_charged, Tokens::new(21));
}

#[test]
fn without_usage_the_charge_is_approximated_from_the_text() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|_, chat| {
            // "Hello": ceil(5 / 4) + 4 + 3 prompt; "12345678": 2 completion.
            chat.tokens
                == domain::TokenCounts {
                    prompt: 9,
                    completion: 2,
                }
                && chat.charged == Tokens::new(11)
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder_answering(Ok("12345678".into()))),
        fixed_clock(),
        per_token_policy(),
        Conversation::default(),
    );
    assert!(block_on(send_chat.execute(command("Hello", None))).is_ok());
}

#[test]
fn the_system_prompt_and_the_last_exchanges_precede_the_message_and_are_reserved_for() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_recent_exchanges()
        .withf(|user, limit| *user == UserId(1) && *limit == 2)
        .times(1)
        .returning(|_, _| Ok(vec![record("before", "earlier answer")]));
    let expected_estimate = ["Be kind.", "before", "earlier answer", "Hello"]
        .iter()
        .map(|text| text.len() as i64 + 4)
        .sum::<i64>()
        + 3;
    chats
        .expect_reserve()
        .withf(move |r| r.amount == Tokens::new(expected_estimate + 512))
        .times(1)
        .returning(|_| Ok(Reservation::Reserved(CHARGE)));
    chats
        .expect_settle()
        .returning(|_, chat| settles_as_asked(chat));
    let mut responder = MockResponder::new();
    responder
        .expect_complete()
        .withf(|request| {
            let messages: Vec<_> = request
                .messages
                .iter()
                .map(|m| (m.role, m.content.as_str()))
                .collect();
            messages
                == [
                    (Role::System, "Be kind."),
                    (Role::User, "before"),
                    (Role::Assistant, "earlier answer"),
                    (Role::User, "Hello"),
                ]
        })
        .times(1)
        .return_once(|_| {
            Ok(Completion {
                text: "ok".into(),
                model: "mock".into(),
                usage: None,
            })
        });
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        per_token_policy(),
        Conversation {
            system_prompt: Some("Be kind.".into()),
            context_messages: 2,
        },
    );
    assert!(block_on(send_chat.execute(command("Hello", None))).is_ok());
}

/// `/v1/chat/completions`: the client's earlier messages instead of the stored exchanges (which
/// are not even read), its answer length in the request and in the per-token reservation.
#[test]
fn a_clients_own_context_replaces_the_stored_one_and_its_answer_length_bounds_the_reservation() {
    let mut chats = MockChatRepository::new();
    let expected_estimate = ["Be kind.", "Use French.", "Hello"]
        .iter()
        .map(|text| text.len() as i64 + 4)
        .sum::<i64>()
        + 3;
    chats
        .expect_reserve()
        .withf(move |r| r.amount == Tokens::new(expected_estimate + 16))
        .times(1)
        .returning(|_| Ok(Reservation::Reserved(CHARGE)));
    chats
        .expect_settle()
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let mut responder = MockResponder::new();
    responder
        .expect_complete()
        .withf(|request| {
            let messages: Vec<_> = request
                .messages
                .iter()
                .map(|m| (m.role, m.content.as_str()))
                .collect();
            messages
                == [
                    (Role::System, "Be kind."),
                    (Role::System, "Use French."),
                    (Role::User, "Hello"),
                ]
                && request.max_tokens == 16
                && request.temperature == Some(0.5)
        })
        .times(1)
        .return_once(|_| {
            Ok(Completion {
                text: "Bonjour".into(),
                model: "mock-2025".into(),
                usage: Some(Usage {
                    prompt_tokens: 9,
                    completion_tokens: 2,
                }),
            })
        });
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        per_token_policy(),
        Conversation {
            system_prompt: Some("Be kind.".into()),
            context_messages: 2,
        },
    );
    let mut cmd = command("Hello", None);
    cmd.options = ChatOptions {
        client_context: Some(vec![PromptMessage::new(Role::System, "Use French.")]),
        max_tokens: Some(16),
        temperature: Some(0.5),
    };
    let answered = block_on(send_chat.execute(cmd)).unwrap();
    assert_eq!(answered.model, "mock-2025");
    assert_eq!(
        answered.tokens,
        domain::TokenCounts {
            prompt: 9,
            completion: 2
        }
    );
    assert_eq!(answered.settled.record.tokens_charged, Tokens::new(11));
}

#[test]
fn answer_options_out_of_bounds_are_refused_before_anything_is_reserved() {
    for options in [
        ChatOptions {
            max_tokens: Some(0),
            ..ChatOptions::default()
        },
        ChatOptions {
            temperature: Some(2.5),
            ..ChatOptions::default()
        },
    ] {
        let mut cmd = command("Hello", None);
        cmd.options = options;
        let result = send(MockChatRepository::new(), silent_responder(), cmd);
        assert!(matches!(result, Err(AppError::Validation(_))), "{result:?}");
    }
}

/// The same key with the same last message but another conversation before it is another
/// request; without a client context the fingerprint is the message's, as it always was.
#[test]
fn a_clients_context_is_part_of_the_idempotency_fingerprint() {
    let message = ChatMessage::parse("Hello").unwrap();
    let native = fingerprint(&message, None);
    assert_eq!(native, fingerprint(&message, Some(&[])));
    let one = [PromptMessage::new(Role::User, "a")];
    let other = [PromptMessage::new(Role::Assistant, "a")];
    let fingerprints = [
        native,
        fingerprint(&message, Some(&one)),
        fingerprint(&message, Some(&other)),
    ];
    assert!(fingerprints[0] != fingerprints[1] && fingerprints[1] != fingerprints[2]);
}

/// A replay reports the served model and the stored exchange's approximated counts, and the
/// balance the caller has now.
#[test]
fn a_replay_reports_the_approximated_usage_of_the_stored_exchange() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .return_once(|_| Ok(Reservation::Replay(record("Hello", "12345678"))));
    let responder = silent_responder();
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        policy(),
        Conversation::default(),
    );
    let answered = block_on(send_chat.execute(command("Hello", Some("key-1")))).unwrap();
    assert_eq!(answered.model, "served");
    assert_eq!(
        answered.tokens,
        domain::TokenCounts {
            prompt: 9,
            completion: 2
        }
    );
    assert_eq!(answered.settled.balance, user(1, 4000).tokens);
}

#[test]
fn nul_characters_in_the_answer_are_not_stored() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|_, chat| chat.response == "nul")
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let result = send(
        chats,
        responder_answering(Ok("n\0u\0l".into())),
        command("Hello", None),
    );
    assert!(result.is_ok());
}

#[test]
fn insufficient_tokens_spares_the_responder_and_reports_both_numbers() {
    let mut chats = MockChatRepository::new();
    chats.expect_reserve().returning(|_| {
        Ok(Reservation::InsufficientTokens {
            available: Tokens::new(40),
        })
    });
    let result = send(chats, silent_responder(), command("Hello", None));
    assert_eq!(
        result,
        Err(AppError::InsufficientTokens {
            needed: Tokens::new(100),
            available: Tokens::new(40)
        })
    );
}

#[test]
fn an_account_deleted_after_authentication_is_an_invalid_token_not_a_balance() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .times(1)
        .returning(|_| Ok(Reservation::UserNotFound));
    let result = send(chats, silent_responder(), command("Hello", None));
    assert_eq!(
        result,
        Err(AppError::TokenInvalid(ports::TokenError::AccountGone(
            UserId(1)
        )))
    );
}

#[test]
fn a_responder_failure_refunds_and_reports_bad_gateway() {
    let mut chats = reserving();
    chats.expect_settle().never();
    chats
        .expect_refund()
        .withf(|charge, _, _| *charge == CHARGE)
        .times(1)
        .returning(|_, _, _| Ok(true));
    let result = send(
        chats,
        responder_answering(Err(ResponderError::Failed("boom".into()))),
        command("Hello", None),
    );
    assert_eq!(result, Err(AppError::ResponderFailed));
}

#[test]
fn a_responder_timeout_refunds_and_reports_gateway_timeout() {
    let mut chats = reserving();
    chats.expect_refund().times(1).returning(|_, _, _| Ok(true));
    let result = send(
        chats,
        responder_answering(Err(ResponderError::Timeout)),
        command("Hello", None),
    );
    assert_eq!(result, Err(AppError::ResponderTimeout));
}

#[test]
fn a_failed_refund_still_reports_the_responder_error() {
    let mut chats = reserving();
    chats
        .expect_refund()
        .times(1)
        .returning(|_, _, _| Err(ports::StorageError::Unavailable("down".into())));
    let result = send(
        chats,
        responder_answering(Err(ResponderError::Timeout)),
        command("Hello", None),
    );
    assert_eq!(result, Err(AppError::ResponderTimeout));
}

#[test]
fn a_charge_swept_before_settling_is_a_timeout_and_stores_nothing() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .times(1)
        .returning(|_, _| Ok(Settlement::ChargeExpired));
    let result = send(
        chats,
        responder_answering(Ok("late".into())),
        command("Hello", None),
    );
    assert_eq!(result, Err(AppError::ResponderTimeout));
}

#[test]
fn a_blank_or_oversized_message_is_rejected_before_any_charge() {
    for message in ["", "   ", &"x".repeat(4001)] {
        let mut chats = MockChatRepository::new();
        chats.expect_reserve().never();
        let result = send(chats, silent_responder(), command(message, None));
        assert!(
            matches!(result, Err(AppError::Validation(e)) if e.fields().contains_key("message"))
        );
    }
}

#[test]
fn an_idempotent_retry_replays_without_charging_or_asking_again() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .withf(|r| {
            r.idempotency.as_ref().is_some_and(|k| {
                k.key == "key-1"
                    && k.request_fingerprint.len() == 64
                    && k.not_before == noon() - chrono::Duration::hours(24)
            })
        })
        .returning(|_| Ok(Reservation::Replay(record("Hello", "stored"))));
    let result = send(chats, silent_responder(), command("Hello", Some("key-1")));
    assert_eq!(result, Ok(record("Hello", "stored")));
}

#[test]
fn the_same_key_with_another_message_is_rejected() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .returning(|_| Ok(Reservation::KeyReused));
    let result = send(chats, silent_responder(), command("Hello", Some("key-1")));
    assert_eq!(result, Err(AppError::IdempotencyKeyReused));
}

#[test]
fn a_concurrent_duplicate_waits_on_the_injected_clock_then_replays_the_first_answer() {
    let mut chats = MockChatRepository::new();
    let answers = Mutex::new(vec![
        Reservation::Replay(record("Hello", "first")),
        Reservation::InProgress,
    ]);
    chats.expect_reserve().times(2).returning(move |_| {
        Ok(answers
            .lock()
            .map(|mut a| a.pop())
            .ok()
            .flatten()
            .unwrap_or(Reservation::InProgress))
    });
    key_states(
        &mut chats,
        vec![
            IdempotencyKeyState::InProgress,
            IdempotencyKeyState::InProgress,
            IdempotencyKeyState::Completed,
        ],
    );
    let (result, clock) = send_keyed_on_manual_clock(chats, silent_responder());
    assert_eq!(result, Ok(record("Hello", "first")));
    assert_eq!(
        clock.now(),
        noon() + chrono::Duration::milliseconds(20 + 40),
        "two growing pauses, slept on the injected clock"
    );
}

#[test]
fn a_duplicate_stops_waiting_at_the_first_requests_deadline() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .times(1)
        .returning(|_| Ok(Reservation::InProgress));
    key_states(&mut chats, vec![IdempotencyKeyState::InProgress]);
    let (result, clock) = send_keyed_on_manual_clock(chats, silent_responder());
    assert_eq!(result, Err(AppError::IdempotencyKeyInProgress));
    assert_eq!(
        clock.now(),
        noon() + chrono::Duration::seconds(50 + 30),
        "waits exactly the pending lifetime (longest answer + grace), never past it"
    );
}

#[test]
fn a_duplicate_beyond_the_waiters_bound_is_refused_at_once_without_waiting() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .times(1)
        .returning(|_| Ok(Reservation::InProgress));
    chats.expect_idempotency_key_state().never();
    let clock = ManualClock::at_noon();
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(silent_responder()),
        clock.clone(),
        policy(),
        Conversation::default(),
    );
    let _waiting: Vec<_> = (0..MAX_WAITERS_PER_KEY)
        .map(|_| send_chat.waiters.join(UserId(1), "key-1").unwrap())
        .collect();
    let result = block_on(send_chat.execute(command("Hello", Some("key-1"))));
    assert_eq!(result, Err(AppError::IdempotencyKeyInProgress));
    assert_eq!(clock.now(), noon(), "no pause at all");
}

#[test]
fn a_key_released_by_a_refund_is_reserved_afresh_without_waiting() {
    let mut chats = MockChatRepository::new();
    let answers = Mutex::new(vec![Reservation::Reserved(CHARGE), Reservation::InProgress]);
    chats
        .expect_reserve()
        .times(2)
        .returning(move |_| Ok(answers.lock().unwrap().pop().unwrap()));
    key_states(&mut chats, vec![IdempotencyKeyState::Absent]);
    chats
        .expect_settle()
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let (result, clock) = send_keyed_on_manual_clock(chats, responder_answering(Ok("Hi!".into())));
    assert_eq!(result, Ok(record("Hello", "Hi!")));
    assert_eq!(clock.now(), noon(), "no pause when the key is free");
}

#[test]
fn malformed_idempotency_keys_are_rejected() {
    for key in ["", "has space", "ключ", &"k".repeat(256)] {
        let mut chats = MockChatRepository::new();
        chats.expect_reserve().never();
        let result = send(chats, silent_responder(), command("Hello", Some(key)));
        assert!(matches!(result, Err(AppError::Validation(_))), "{key:?}");
    }
}

#[test]
fn storage_outage_during_reservation_is_unavailable_and_skips_the_responder() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .returning(|_| Err(ports::StorageError::Unavailable("down".into())));
    assert_eq!(
        send(chats, silent_responder(), command("Hello", None)),
        Err(AppError::StorageUnavailable)
    );
}

/// What a use case reported to the metrics port, one line per call.
#[derive(Default)]
struct Reported(Mutex<Vec<String>>);

impl ports::ChatMetrics for Reported {
    fn chat_answered(&self, charged: Tokens) {
        self.0
            .lock()
            .unwrap()
            .push(format!("answered {}", charged.get()));
    }

    fn insufficient_tokens(&self) {
        self.0.lock().unwrap().push("insufficient".into());
    }

    fn refunded(&self, cause: RefundCause, count: u64) {
        self.0
            .lock()
            .unwrap()
            .push(format!("refunded {} {count}", cause.as_str()));
    }
}

/// Sends "Hello" on `reservation`, the responder answering `answer` and a refund finding the
/// charge pending or not (`refunded`); returns what reached the metrics port.
fn reported(
    reservation: Reservation,
    answer: Result<String, ResponderError>,
    refunded: bool,
) -> Vec<String> {
    let mut chats = MockChatRepository::new();
    chats.expect_reserve().return_once(move |_| Ok(reservation));
    chats
        .expect_settle()
        .returning(|_, chat| settles_as_asked(chat));
    chats.expect_refund().returning(move |_, _, _| Ok(refunded));
    let mut responder = MockResponder::new();
    responder.expect_complete().return_once(move |_| {
        answer.map(|text| Completion {
            text,
            model: "mock".into(),
            usage: None,
        })
    });
    let metrics = Arc::new(Reported::default());
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        policy(),
        Conversation::default(),
    )
    .with_metrics(metrics.clone());
    let _outcome = block_on(send_chat.execute(command("Hello", None)));
    metrics.0.lock().unwrap().clone()
}

#[test]
fn answers_refusals_and_refunds_are_reported_to_the_metrics_port() {
    let reserved = || Reservation::Reserved(CHARGE);
    assert_eq!(
        reported(reserved(), Ok("Hi!".into()), false),
        ["answered 100"]
    );
    assert_eq!(
        reported(
            Reservation::InsufficientTokens {
                available: Tokens::new(40)
            },
            Ok("unused".into()),
            false
        ),
        ["insufficient"]
    );
    assert_eq!(
        reported(reserved(), Err(ResponderError::Timeout), true),
        ["refunded responder_timeout 1"]
    );
    assert!(
        reported(reserved(), Err(ResponderError::Timeout), false).is_empty(),
        "a charge the sweeper already refunded is counted by the sweeper"
    );
}
