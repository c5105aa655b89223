use std::{
    future::poll_fn,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Poll, Waker},
};

use domain::{ChatStatus, TokenCounts, Tokens};
use futures_executor::block_on;
use futures_util::{StreamExt, stream};
use ports::{
    MockChatRepository, MockResponder, Reservation, ResponderError, SettledChat, StreamPiece, Usage,
};

use super::*;
use crate::{
    send_chat::{
        ChargePolicy, Conversation,
        tests::{CHARGE, command, per_token_policy, policy, record, reserving, settles_as_asked},
    },
    test_support::fixed_clock,
};

/// Records the events it is sent; with `leave_after = Some(n)` the client goes away once it has
/// received `n` events (later sends fail and `closed` completes).
#[derive(Default)]
struct Client {
    events: Mutex<Vec<ChatEvent>>,
    leave_after: Option<usize>,
    gone: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Client {
    fn leaving_after(events: usize) -> Self {
        Self {
            leave_after: Some(events),
            ..Self::default()
        }
    }

    fn events(&self) -> Vec<ChatEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventSink for Client {
    async fn send(&self, event: ChatEvent) -> Result<(), ClientGone> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(ClientGone);
        }
        let mut events = self.events.lock().unwrap();
        events.push(event);
        if Some(events.len()) == self.leave_after {
            self.gone.store(true, Ordering::SeqCst);
            if let Some(waker) = self.waker.lock().unwrap().take() {
                waker.wake();
            }
        }
        Ok(())
    }

    async fn closed(&self) {
        poll_fn(|cx| {
            if self.gone.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                *self.waker.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

/// Sets its flag when dropped: tells whether the model's stream was let go (cancelled).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A model that streams `pieces` and then, unless they end it, stays silent for ever; the flag
/// tells when its stream was dropped.
fn model_streaming(
    pieces: Vec<Result<StreamPiece, ResponderError>>,
) -> (MockResponder, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let upstream = stream::iter(pieces)
        .chain(stream::pending())
        .map(move |piece| {
            let _alive = &guard;
            piece
        });
    let mut responder = MockResponder::new();
    responder
        .expect_stream()
        .times(1)
        .return_once(move |_| Ok(Box::pin(upstream) as ports::CompletionStream));
    responder.expect_model().returning(|| "configured".into());
    (responder, dropped)
}

fn delta(text: &str) -> Result<StreamPiece, ResponderError> {
    Ok(StreamPiece::Delta(text.into()))
}

fn finished(usage: Option<Usage>) -> Result<StreamPiece, ResponderError> {
    Ok(StreamPiece::Finished {
        model: "upstream-model".into(),
        usage,
    })
}

fn run(chats: MockChatRepository, responder: MockResponder, policy: ChargePolicy, client: &Client) {
    let send_chat = SendChat::new(
        Arc::new(chats),
        Arc::new(responder),
        fixed_clock(),
        policy,
        Conversation::default(),
    );
    block_on(send_chat.stream(command("Hello", None), client));
}

fn done_of(events: &[ChatEvent]) -> &SettledChat {
    match events.last() {
        Some(ChatEvent::Done(answered)) => &answered.settled,
        other => panic!("expected done last, got {other:?}"),
    }
}

#[test]
fn pieces_are_relayed_as_they_come_then_the_answer_is_settled_and_reported() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|charge, chat| {
            *charge == CHARGE
                && chat.response == "Hello there"
                && chat.status == ChatStatus::Completed
                && chat.model == "upstream-model"
                && chat.charged == Tokens::new(100)
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    chats.expect_refund().never();
    let (responder, _) = model_streaming(vec![delta("Hello"), delta(" there"), finished(None)]);
    let client = Client::default();
    run(chats, responder, policy(), &client);
    let events = client.events();
    assert_eq!(
        events[..3],
        [
            ChatEvent::Started,
            ChatEvent::Delta("Hello".into()),
            ChatEvent::Delta(" there".into())
        ]
    );
    assert_eq!(done_of(&events).record.response, "Hello there");
    assert_eq!(events.len(), 4);
}

#[test]
fn per_token_streams_are_settled_from_the_reported_usage() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|_, chat| {
            chat.tokens
                == TokenCounts {
                    prompt: 7,
                    completion: 3,
                }
                && chat.charged == Tokens::new(10)
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let usage = Usage {
        prompt_tokens: 7,
        completion_tokens: 3,
    };
    let (responder, _) = model_streaming(vec![delta("a b c"), finished(Some(usage))]);
    let client = Client::default();
    run(chats, responder, per_token_policy(), &client);
    assert_eq!(
        done_of(&client.events()).record.tokens_charged,
        Tokens::new(10)
    );
}

/// The client leaves after two deltas while the model is still writing: the model's stream is
/// dropped at once, and what was written is stored as interrupted, free under flat pricing.
#[test]
fn a_client_leaving_mid_answer_cancels_the_model_and_stores_an_interrupted_exchange() {
    let (responder, dropped) = model_streaming(vec![delta("a"), delta("b")]);
    let cancelled_before_settling = dropped.clone();
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(move |_, chat| {
            cancelled_before_settling.load(Ordering::SeqCst)
                && chat.response == "ab"
                && chat.status == ChatStatus::Interrupted
                && chat.charged == Tokens::ZERO
                && chat.model == "configured"
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    chats.expect_refund().never();
    let client = Client::leaving_after(3);
    run(chats, responder, policy(), &client);
    assert_eq!(
        client.events(),
        [
            ChatEvent::Started,
            ChatEvent::Delta("a".into()),
            ChatEvent::Delta("b".into())
        ]
    );
}

#[test]
fn per_token_interruptions_pay_for_the_prompt_and_the_text_produced() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|_, chat| {
            // "Hello": ceil(5 / 4) + 4 + 3 prompt; "12345678": 2 completion.
            chat.status == ChatStatus::Interrupted
                && chat.tokens
                    == TokenCounts {
                        prompt: 9,
                        completion: 2,
                    }
                && chat.charged == Tokens::new(11)
        })
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let (responder, _) = model_streaming(vec![delta("1234"), delta("5678")]);
    run(
        chats,
        responder,
        per_token_policy(),
        &Client::leaving_after(3),
    );
}

#[test]
fn a_client_gone_before_the_answer_starts_still_settles_as_interrupted() {
    let mut chats = reserving();
    chats
        .expect_settle()
        .withf(|_, chat| chat.status == ChatStatus::Interrupted && chat.response.is_empty())
        .times(1)
        .returning(|_, chat| settles_as_asked(chat));
    let (responder, _) = model_streaming(vec![delta("never sent")]);
    let client = Client::leaving_after(0);
    client.gone.store(true, Ordering::SeqCst);
    run(chats, responder, policy(), &client);
    assert!(client.events().is_empty());
}

#[test]
fn a_model_failing_mid_answer_refunds_everything_and_reports_an_error_event() {
    let mut chats = reserving();
    chats.expect_settle().never();
    chats
        .expect_refund()
        .withf(|charge, _, _| *charge == CHARGE)
        .times(1)
        .returning(|_, _, _| Ok(true));
    let (responder, _) = model_streaming(vec![
        delta("partial"),
        Err(ResponderError::Failed("upstream broke".into())),
    ]);
    let client = Client::default();
    run(chats, responder, policy(), &client);
    assert_eq!(
        client.events(),
        [
            ChatEvent::Started,
            ChatEvent::Delta("partial".into()),
            ChatEvent::Failed(AppError::ResponderFailed)
        ]
    );
}

#[test]
fn a_stream_ending_without_finishing_is_a_failure() {
    let mut chats = reserving();
    chats.expect_settle().never();
    chats.expect_refund().times(1).returning(|_, _, _| Ok(true));
    let mut responder = MockResponder::new();
    responder
        .expect_stream()
        .return_once(|_| Ok(Box::pin(stream::iter([delta("cut")])) as ports::CompletionStream));
    let client = Client::default();
    run(chats, responder, policy(), &client);
    assert_eq!(
        client.events().last(),
        Some(&ChatEvent::Failed(AppError::ResponderFailed))
    );
}

#[test]
fn a_model_refusing_to_start_is_an_ordinary_failure_before_any_event() {
    let mut chats = reserving();
    chats.expect_refund().times(1).returning(|_, _, _| Ok(true));
    let mut responder = MockResponder::new();
    responder.expect_stream().return_once(|_| {
        Err(ResponderError::Busy {
            retry_after_secs: 2,
        })
    });
    let client = Client::default();
    run(chats, responder, policy(), &client);
    assert_eq!(
        client.events(),
        [ChatEvent::Failed(AppError::ResponderBusy {
            retry_after_secs: 2
        })]
    );
}

#[test]
fn a_refused_reservation_is_reported_and_spares_the_model() {
    let mut chats = MockChatRepository::new();
    chats.expect_reserve().returning(|_| {
        Ok(Reservation::InsufficientTokens {
            available: Tokens::new(40),
        })
    });
    let mut responder = MockResponder::new();
    responder.expect_stream().never();
    let client = Client::default();
    run(chats, responder, policy(), &client);
    assert_eq!(
        client.events(),
        [ChatEvent::Failed(AppError::InsufficientTokens {
            needed: Tokens::new(100),
            available: Tokens::new(40)
        })]
    );
}

#[test]
fn an_idempotent_retry_streams_the_stored_answer_without_charging() {
    let mut chats = MockChatRepository::new();
    chats
        .expect_reserve()
        .returning(|_| Ok(Reservation::Replay(record("Hello", "stored"))));
    chats.expect_settle().never();
    let mut responder = MockResponder::new();
    responder.expect_stream().never();
    responder.expect_model().return_const("served".to_owned());
    let client = Client::default();
    run(chats, responder, policy(), &client);
    let events = client.events();
    assert_eq!(
        events[..2],
        [ChatEvent::Started, ChatEvent::Delta("stored".into())]
    );
    let done = done_of(&events);
    assert_eq!(done.record, record("Hello", "stored"));
    assert_eq!(
        done.balance,
        Tokens::new(4000),
        "the balance as authenticated"
    );
}
