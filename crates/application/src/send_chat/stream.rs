//! Streamed answers. The use case runs as one future that the HTTP edge spawns on a task of its
//! own, so the charge is settled or refunded by code that does not live in the response body: a
//! client that goes away only closes the [`EventSink`]; the future then drops the model's stream
//! (which cancels the upstream request) and stores what was written as `interrupted`.

use std::pin::pin;

use async_trait::async_trait;
use domain::ChatStatus;
use futures_util::{
    StreamExt,
    future::{Either, select},
};
use ports::{CompletionStream, Settlement, StreamPiece};

use super::{Answered, Begun, SendChat, SendChatCommand, prompt};
use crate::AppError;

/// What a streamed chat tells its client, in this order: at most one `Started`, any number of
/// `Delta`s, then exactly one `Done` or `Failed` (none after the client has gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// The charge is reserved and the model has accepted the request: the answer follows.
    /// A `Failed` before this is an ordinary error response; after it, an error event.
    Started,
    /// More of the answer, in order.
    Delta(String),
    /// The answer is complete and stored; the record, the balance it left and its token counts.
    Done(Answered),
    /// No answer: nothing was stored and nothing charged (or the idempotency key replays
    /// nothing yet).
    Failed(AppError),
}

/// The client of a streamed chat has gone away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client has gone away")]
pub struct ClientGone;

/// Where a streamed chat's events go: the HTTP response of the request, through a bounded
/// channel in the HTTP edge.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Delivers `event`, waiting while the client is behind; `ClientGone` once it has left.
    async fn send(&self, event: ChatEvent) -> Result<(), ClientGone>;

    /// Completes once the client has gone away (and never while it is still there).
    async fn closed(&self);
}

/// How the model's stream ended, as the use case saw it.
enum Ending {
    /// The model finished its answer.
    Finished {
        model: String,
        usage: Option<ports::Usage>,
    },
    /// The client went away first.
    ClientGone,
    /// The model failed (or the stream ended without finishing).
    Failed(ports::ResponderError),
}

impl SendChat {
    /// Runs one chat, sending its events to `sink`: reserves the most the answer may cost, streams
    /// the model's pieces as they come, then settles what the answer cost (refunding the rest), or
    /// refunds everything when the model fails. If the client goes away mid-answer, the model's
    /// stream is dropped at once (cancelling the upstream request) and the exchange is stored as
    /// `interrupted`, charged by the pricing policy for what was produced.
    pub async fn stream(&self, command: SendChatCommand, sink: &dyn EventSink) {
        let reserved = match self.begin(command).await {
            Ok(Begun::Reserved(reserved)) => reserved,
            Ok(Begun::Replay(answered)) => {
                // A retry of an answered request: the stored answer again, charged nothing now.
                let response = answered.settled.record.response.clone();
                let _gone_is_fine = async {
                    sink.send(ChatEvent::Started).await?;
                    if !response.is_empty() {
                        sink.send(ChatEvent::Delta(response)).await?;
                    }
                    sink.send(ChatEvent::Done(answered)).await
                }
                .await;
                return;
            }
            Err(error) => {
                let _gone_is_fine = sink.send(ChatEvent::Failed(error)).await;
                return;
            }
        };
        let upstream = match self.responder.stream(reserved.request.clone()).await {
            Ok(upstream) => upstream,
            Err(error) => {
                let error = self.refund(reserved.charge, error).await;
                let _gone_is_fine = sink.send(ChatEvent::Failed(error)).await;
                return;
            }
        };
        let mut text = String::new();
        let ending = match sink.send(ChatEvent::Started).await {
            Ok(()) => relay(upstream, sink, &mut text).await,
            Err(ClientGone) => Ending::ClientGone,
        };
        let (status, model, usage) = match ending {
            Ending::Finished { model, usage } => (ChatStatus::Completed, model, usage),
            Ending::ClientGone => (ChatStatus::Interrupted, self.responder.model(), None),
            Ending::Failed(error) => {
                let error = self.refund(reserved.charge, error).await;
                let _gone_is_fine = sink.send(ChatEvent::Failed(error)).await;
                return;
            }
        };
        let tokens = prompt::counts(&reserved.request, &text, usage);
        let event = match self
            .settle(&reserved, text, status, model.clone(), tokens)
            .await
        {
            Ok(Settlement::Settled(settled)) => ChatEvent::Done(Answered {
                settled,
                model,
                tokens,
            }),
            Ok(Settlement::ChargeExpired) => ChatEvent::Failed(AppError::ResponderTimeout),
            // The charge stays pending; the sweeper refunds it after its deadline.
            Err(error) => ChatEvent::Failed(error),
        };
        if status == ChatStatus::Completed {
            let _gone_is_fine = sink.send(event).await;
        }
    }
}

/// Passes the model's pieces on to the client until the answer ends, the model fails, or the
/// client goes away; collects the text sent. Returning drops `upstream`, which cancels the
/// upstream request if it is still running.
async fn relay(mut upstream: CompletionStream, sink: &dyn EventSink, text: &mut String) -> Ending {
    loop {
        let next = {
            let gone = pin!(sink.closed());
            let piece = upstream.next();
            // The client's departure wins a tie: nothing more is read from the model.
            match select(gone, piece).await {
                Either::Left(((), _)) => return Ending::ClientGone,
                Either::Right((piece, _)) => piece,
            }
        };
        match next {
            Some(Ok(StreamPiece::Delta(piece))) => {
                let piece = domain::chat::without_nul(piece);
                if piece.is_empty() {
                    continue;
                }
                text.push_str(&piece);
                if sink.send(ChatEvent::Delta(piece)).await.is_err() {
                    return Ending::ClientGone;
                }
            }
            Some(Ok(StreamPiece::Finished { model, usage })) => {
                return Ending::Finished { model, usage };
            }
            Some(Err(error)) => return Ending::Failed(error),
            None => {
                return Ending::Failed(ports::ResponderError::Failed(
                    "the answer stream ended before the answer was finished".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
