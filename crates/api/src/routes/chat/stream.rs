//! `POST /chatView/` with `"stream": true`: the answer as Server-Sent Events while the model is
//! still writing.
//!
//! ```text
//! event: delta
//! data: {"text":"Hello"}
//!
//! event: done
//! data: {"user":1,"message":"…","response":"…","timestamp":"…Z","tokens_charged":100,"balance":3800}
//! ```
//!
//! or, when the answer fails after the stream has begun, `event: error` with the problem+json
//! body as data. A failure before the stream begins (validation, 402, a model that refuses to
//! start) is the ordinary problem+json response.
//!
//! The chat runs on a task of its own ([`SendChat::stream`]), which owns the charge: its events
//! reach the response body through a bounded channel. When the client goes away, actix drops the
//! body and with it the channel's receiver; the task sees its sink closed, cancels the model and
//! settles the exchange as `interrupted`. Actix notices a vanished client only when it reads EOF
//! (half-closed connections are refused, see `startup`) or a write fails, so the body writes an
//! SSE comment whenever the model has been silent for [`HEARTBEAT`].
//!
//! The task outlives the HTTP workers (it must settle after its response has ended), and the
//! shutdown deadline closes its sink like a departed client: a stream still running then is cut
//! and settled as `interrupted` before the process exits.

use std::{sync::Arc, time::Duration};

use actix_web::{HttpResponse, http::header, web::Bytes};
use application::{AppError, ChatEvent, ClientGone, EventSink, SendChat, SendChatCommand};
use async_trait::async_trait;
use futures_util::stream;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ChatResponse;
use crate::{
    ops::{Shutdown, request_id::RequestId},
    problem::ApiError,
};

/// Longest the body stays silent: a comment line is written after this much quiet.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Events buffered between the chat task and a slow client before the task waits.
const BUFFERED_EVENTS: usize = 16;

/// The comment written when nothing else was for [`HEARTBEAT`]; SSE clients ignore it.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The chat task's end of the channel to the response body. It counts as closed once the body
/// has gone (the client left) or the shutdown deadline has come.
struct ChannelSink {
    events: mpsc::Sender<ChatEvent>,
    deadline: CancellationToken,
}

#[async_trait]
impl EventSink for ChannelSink {
    async fn send(&self, event: ChatEvent) -> Result<(), ClientGone> {
        self.events.send(event).await.map_err(|_| ClientGone)
    }

    async fn closed(&self) {
        tokio::select! {
            () = self.events.closed() => {}
            () = self.deadline.cancelled() => {}
        }
    }
}

/// How a stream's events are written on the wire: this module's `delta`/`done`/`error` events,
/// or OpenAI's chunks under `/v1/`.
pub(crate) trait SseFormat: Send + 'static {
    /// `event` as one or more SSE frames (or a comment); an error names `request_id`.
    fn encode(&mut self, event: ChatEvent, request_id: Option<&RequestId>) -> Bytes;
}

/// `/chatView/`'s events, as the module documentation shows them.
pub(crate) struct NativeEvents;

impl SseFormat for NativeEvents {
    fn encode(&mut self, event: ChatEvent, request_id: Option<&RequestId>) -> Bytes {
        encode(event, request_id)
    }
}

/// Starts the chat on its own task and answers once it has begun: an SSE response written in
/// `format`, or the error response of a failure before the first event.
pub(crate) async fn respond(
    send_chat: Arc<SendChat>,
    command: SendChatCommand,
    shutdown: &Shutdown,
    format: impl SseFormat,
) -> Result<HttpResponse, ApiError> {
    let (events, mut receiver) = mpsc::channel(BUFFERED_EVENTS);
    let sink = ChannelSink {
        events,
        deadline: shutdown.deadline().clone(),
    };
    let chat = async move { send_chat.stream(command, &sink).await };
    shutdown.spawn_outliving_workers(chat.in_current_span());
    // The body is polled outside the request's scope: an error event names the request itself.
    let request_id = crate::ops::request_id::current();
    let first = match receiver.recv().await {
        Some(ChatEvent::Failed(error)) => return Err(error.into()),
        Some(first) => first,
        None => {
            return Err(AppError::Internal("the chat task ended without an event".into()).into());
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body(first, receiver, request_id, format)))
}

/// The response body: `first`, then every event from `receiver` until the last one, with a
/// keep-alive comment after every [`HEARTBEAT`] of silence. Dropping it (the client went away)
/// drops `receiver`, which is how the chat task learns of the departure.
fn body(
    first: ChatEvent,
    receiver: mpsc::Receiver<ChatEvent>,
    request_id: Option<RequestId>,
    format: impl SseFormat,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    stream::unfold(
        (Some(first), Some((receiver, format))),
        move |(mut pending, open)| {
            let request_id = request_id.clone();
            async move {
                let (mut receiver, mut format) = open?;
                let event = match pending.take() {
                    Some(event) => event,
                    None => match tokio::time::timeout(HEARTBEAT, receiver.recv()).await {
                        Err(_silence) => {
                            return Some((
                                Ok(Bytes::from_static(KEEP_ALIVE)),
                                (None, Some((receiver, format))),
                            ));
                        }
                        Ok(None) => return None,
                        Ok(Some(event)) => event,
                    },
                };
                let last = matches!(event, ChatEvent::Done(_) | ChatEvent::Failed(_));
                let frames = format.encode(event, request_id.as_ref());
                let next = (None, (!last).then_some((receiver, format)));
                Some((Ok(frames), next))
            }
        },
    )
}

/// One event in SSE framing; `Started` is a comment, which flushes the headers at once. An error
/// event's problem body names `request_id`.
fn encode(event: ChatEvent, request_id: Option<&RequestId>) -> Bytes {
    let (name, data) = match event {
        ChatEvent::Started => return Bytes::from_static(b": started\n\n"),
        ChatEvent::Delta(text) => ("delta", json!({ "text": text }).to_string()),
        ChatEvent::Done(answered) => (
            "done",
            serde_json::to_string(&ChatResponse::new(
                answered.settled.record,
                Some(answered.settled.balance),
            ))
            .unwrap_or_else(|_| String::from("{}")),
        ),
        ChatEvent::Failed(error) => ("error", ApiError::from(error).problem_json(request_id)),
    };
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use application::Answered;
    use chrono::{TimeZone, Utc};
    use domain::{ChatStatus, TokenCounts, Tokens, UserId};
    use futures_util::StreamExt;
    use ports::{ChatRecord, SettledChat};

    use super::*;

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn events_are_framed_as_the_api_documents() {
        assert_eq!(
            text(encode(ChatEvent::Delta("He said \"hi\"\n".into()), None)),
            "event: delta\ndata: {\"text\":\"He said \\\"hi\\\"\\n\"}\n\n"
        );
        let done = ChatEvent::Done(Answered {
            settled: SettledChat {
                record: ChatRecord {
                    id: 3,
                    user_id: UserId(1),
                    message: "m".into(),
                    response: "r".into(),
                    timestamp: Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap(),
                    status: ChatStatus::Completed,
                    tokens_charged: Tokens::new(100),
                },
                balance: Tokens::new(3800),
            },
            model: "dummy".into(),
            tokens: TokenCounts::default(),
        });
        assert_eq!(
            text(encode(done, None)),
            "event: done\ndata: {\"user\":1,\"message\":\"m\",\"response\":\"r\",\
             \"timestamp\":\"2025-01-01T12:00:00Z\",\"tokens_charged\":100,\"balance\":3800}\n\n"
        );
        let error = text(encode(ChatEvent::Failed(AppError::ResponderFailed), None));
        assert!(error.starts_with("event: error\ndata: {"), "{error}");
        let data: serde_json::Value =
            serde_json::from_str(error.trim_end().split_once("data: ").unwrap().1).unwrap();
        assert_eq!(
            (data["status"].as_u64(), data["code"].as_str()),
            (Some(502), Some("responder_failed"))
        );
        assert!(text(encode(ChatEvent::Started, None)).starts_with(':'));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_is_filled_with_heartbeats_and_the_body_ends_after_the_last_event() {
        let (sender, receiver) = mpsc::channel(4);
        let mut body = Box::pin(body(ChatEvent::Started, receiver, None, NativeEvents));
        assert_eq!(text(body.next().await.unwrap().unwrap()), ": started\n\n");
        let before = tokio::time::Instant::now();
        assert_eq!(body.next().await.unwrap().unwrap(), KEEP_ALIVE);
        assert_eq!(before.elapsed(), HEARTBEAT);
        sender.send(ChatEvent::Delta("x".into())).await.unwrap();
        assert!(text(body.next().await.unwrap().unwrap()).starts_with("event: delta"));
        sender
            .send(ChatEvent::Failed(AppError::ResponderTimeout))
            .await
            .unwrap();
        assert!(text(body.next().await.unwrap().unwrap()).starts_with("event: error"));
        assert!(body.next().await.is_none());
        assert!(
            sender.is_closed(),
            "the receiver is dropped with the last event"
        );
    }
}
