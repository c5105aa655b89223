//! A streamed answer's body (SSE of `chat.completion.chunk`s) turned into [`StreamPiece`]s.
//!
//! Tolerant of what compatible servers differ in: chunks with empty `choices` (the usage chunk),
//! no usage at all, a role-only first chunk, and a body that ends after a `finish_reason`
//! without `[DONE]`. A body that ends before either is a failure: the answer may be cut short.

use std::collections::VecDeque;

use futures_util::{Stream, StreamExt, stream};
use ports::{CompletionStream, ResponderError, StreamPiece, Usage};

use super::{
    sse::SseDecoder,
    wire::{ChatChunk, without_nul},
};

/// What the chunks so far said about the answer.
#[derive(Debug)]
pub struct ChunkReader {
    decoder: SseDecoder,
    /// The model the chunks name (the configured one until they name one).
    model: String,
    usage: Option<Usage>,
    /// A choice said why it stopped: the text is complete even if `[DONE]` never comes.
    finished: bool,
    /// `[DONE]` was read, or the stream failed: nothing more is produced.
    ended: bool,
}

impl ChunkReader {
    /// A reader for an answer by `model` (until the chunks say otherwise).
    pub fn new(model: String) -> Self {
        Self {
            decoder: SseDecoder::default(),
            model,
            usage: None,
            finished: false,
            ended: false,
        }
    }

    /// The pieces the next bytes of the body complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Result<StreamPiece, ResponderError>> {
        let mut pieces = Vec::new();
        for data in self.decoder.feed(bytes) {
            if self.ended {
                break;
            }
            if data.trim() == "[DONE]" {
                pieces.push(Ok(self.finish()));
                continue;
            }
            match serde_json::from_str::<ChatChunk>(&data) {
                Ok(chunk) => pieces.extend(self.chunk(chunk)),
                Err(error) => pieces.push(Err(self.fail(format!("unreadable chunk: {error}")))),
            }
        }
        pieces
    }

    /// What the end of the body means: the final piece, or nothing if one was produced already.
    pub fn end(&mut self) -> Option<Result<StreamPiece, ResponderError>> {
        if self.ended {
            None
        } else if self.finished {
            Some(Ok(self.finish()))
        } else {
            Some(Err(self.fail(
                "the stream ended before the answer was complete".into(),
            )))
        }
    }

    fn chunk(&mut self, chunk: ChatChunk) -> Option<Result<StreamPiece, ResponderError>> {
        if let Some(error) = chunk.error {
            return Some(Err(self.fail(format!("error inside the stream: {error}"))));
        }
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = without_nul(model);
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let choice = chunk.choices.into_iter().next()?;
        if choice.finish_reason.is_some() {
            self.finished = true;
        }
        let text = without_nul(choice.delta?.content?);
        (!text.is_empty()).then_some(Ok(StreamPiece::Delta(text)))
    }

    fn finish(&mut self) -> StreamPiece {
        self.ended = true;
        StreamPiece::Finished {
            model: std::mem::take(&mut self.model),
            usage: self.usage,
        }
    }

    fn fail(&mut self, reason: String) -> ResponderError {
        self.ended = true;
        tracing::warn!(%reason, "upstream stream failed");
        ResponderError::Failed(reason)
    }
}

/// The pieces of an answer whose body arrives as `body`. Dropping the stream drops the body,
/// which closes the upstream connection.
pub fn pieces<B, T, E>(body: B, model: String) -> CompletionStream
where
    B: Stream<Item = Result<T, E>> + Send + 'static,
    T: AsRef<[u8]>,
    E: std::fmt::Display,
{
    struct State<B> {
        body: std::pin::Pin<Box<B>>,
        reader: ChunkReader,
        ready: VecDeque<Result<StreamPiece, ResponderError>>,
    }
    let state = State {
        body: Box::pin(body),
        reader: ChunkReader::new(model),
        ready: VecDeque::new(),
    };
    Box::pin(stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        loop {
            if let Some(piece) = state.ready.pop_front() {
                let more = piece.is_ok() && !matches!(piece, Ok(StreamPiece::Finished { .. }));
                return Some((piece, more.then_some(state)));
            }
            match state.body.next().await {
                Some(Ok(bytes)) => state.ready.extend(state.reader.feed(bytes.as_ref())),
                Some(Err(error)) => {
                    let error = state.reader.fail(format!("reading the stream: {error}"));
                    return Some((Err(error), None));
                }
                None => return state.reader.end().map(|piece| (piece, None)),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Vec<Result<StreamPiece, ResponderError>> {
        let mut reader = ChunkReader::new("configured".into());
        let mut pieces = reader.feed(body.as_bytes());
        pieces.extend(reader.end());
        pieces
    }

    fn delta(text: &str) -> Result<StreamPiece, ResponderError> {
        Ok(StreamPiece::Delta(text.into()))
    }

    #[test]
    fn deltas_then_the_usage_chunk_then_done() {
        let body = concat!(
            "data: {\"model\":\"m-1\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\\u0000\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(
            read(body),
            vec![
                delta("Hel"),
                delta("lo"),
                Ok(StreamPiece::Finished {
                    model: "m-1".into(),
                    usage: Some(Usage {
                        prompt_tokens: 5,
                        completion_tokens: 2
                    })
                })
            ]
        );
    }

    #[test]
    fn a_server_without_usage_or_done_still_finishes_after_a_finish_reason() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n";
        assert_eq!(
            read(body),
            vec![
                delta("x"),
                Ok(StreamPiece::Finished {
                    model: "configured".into(),
                    usage: None
                })
            ]
        );
    }

    #[test]
    fn a_body_cut_short_or_unreadable_or_carrying_an_error_fails() {
        for body in [
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
            "data: {not json\n\ndata: [DONE]\n\n",
            "data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n",
        ] {
            let pieces = read(body);
            assert!(
                matches!(pieces.last(), Some(Err(ResponderError::Failed(_)))),
                "{body}: {pieces:?}"
            );
            assert_eq!(
                pieces.iter().filter(|p| p.is_err()).count(),
                1,
                "one error ends the stream: {pieces:?}"
            );
        }
    }

    #[test]
    fn nothing_follows_done() {
        let body = "data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n";
        assert_eq!(
            read(body),
            vec![Ok(StreamPiece::Finished {
                model: "configured".into(),
                usage: None
            })]
        );
    }

    #[tokio::test]
    async fn the_stream_ends_after_its_first_error() {
        let body = stream::iter([
            Ok(&b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"[..]),
            Err("connection reset"),
            Ok(&b"data: [DONE]\n\n"[..]),
        ]);
        let collected: Vec<_> = pieces(body, "m".into()).collect().await;
        assert_eq!(collected.len(), 2, "{collected:?}");
        assert_eq!(collected[0], delta("a"));
        assert!(matches!(collected[1], Err(ResponderError::Failed(_))));
    }
}
