//! Streamed answers.

use std::sync::Arc;

use futures_util::StreamExt;
use ports::{Responder, StreamPiece};

use super::{collect, request};

/// A stream's deltas joined are the whole answer to the same request, and its `Finished` names
/// the same model and usage.
pub async fn a_stream_joins_to_the_whole_answer(responder: Arc<dyn Responder>) {
    let question = request("Say hello in a few words.");
    let whole = responder
        .complete(question.clone())
        .await
        .expect("an answer");
    let pieces = collect(&*responder, question).await;
    let mut text = String::new();
    let mut finished = None;
    for piece in pieces {
        match piece.expect("no error") {
            StreamPiece::Delta(delta) => text.push_str(&delta),
            StreamPiece::Finished { model, usage } => finished = Some((model, usage)),
        }
    }
    assert_eq!(text, whole.text);
    assert_eq!(finished, Some((whole.model, whole.usage)));
}

/// A successful stream is deltas with text, then exactly one `Finished`, then its end.
pub async fn a_stream_ends_with_exactly_one_finished(responder: Arc<dyn Responder>) {
    let mut stream = responder
        .stream(request("Name a colour."))
        .await
        .expect("the stream starts");
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await {
        pieces.push(piece.expect("no error"));
    }
    // Collected to the stream's end (polling past it is not part of the `Stream` contract).
    let (last, deltas) = pieces.split_last().expect("at least the end");
    assert!(matches!(last, StreamPiece::Finished { model, .. } if !model.is_empty()));
    assert!(!deltas.is_empty(), "an answer has text");
    for delta in deltas {
        assert!(
            matches!(delta, StreamPiece::Delta(text) if !text.is_empty() && !text.contains('\0')),
            "{delta:?}"
        );
    }
}

/// Dropping a stream after its first piece is allowed, and the responder goes on answering.
pub async fn dropping_a_stream_midway_leaves_the_responder_usable(responder: Arc<dyn Responder>) {
    let mut stream = responder
        .stream(request("Tell a long story."))
        .await
        .expect("the stream starts");
    assert!(stream.next().await.is_some_and(|piece| piece.is_ok()));
    drop(stream);
    assert!(responder.complete(request("Still there?")).await.is_ok());
    assert!(!collect(&*responder, request("And now?")).await.is_empty());
}
