//! Server-Sent Events as OpenAI-compatible servers stream them: only `data:` fields matter; an
//! event ends at a blank line, and an event's `data:` lines are joined with newlines.

/// Splits a byte stream, fed in pieces of any size, into the data of complete events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes after the last line break seen (a line may be split across pieces).
    partial: Vec<u8>,
    /// The `data:` lines of the event being read.
    data: Option<String>,
    /// The previous piece ended with `\r`, so a `\n` opening this one belongs to that break.
    after_cr: bool,
}

impl SseDecoder {
    /// Feeds the next piece of the body; returns the data of every event it completed, in order.
    /// Bytes that are not UTF-8 are replaced, as the SSE specification says.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.partial.extend_from_slice(&bytes[..end]);
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            if bytes[end] == b'\r' && end + 1 == bytes.len() {
                self.after_cr = true;
            }
            bytes = &bytes[end + if crlf { 2 } else { 1 }..];
        }
        self.partial.extend_from_slice(bytes);
        events
    }

    /// Handles one line; returns the event's data when the line is the blank one ending it.
    fn line(&mut self, line: &str) -> Option<String> {
        if line.is_empty() {
            return self.data.take();
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field == "data" {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        // Comments (`: keep-alive`), `event:`, `id:` and `retry:` carry nothing we use.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize) -> Vec<String> {
        let mut decoder = SseDecoder::default();
        body.chunks(piece).flat_map(|p| decoder.feed(p)).collect()
    }

    #[test]
    fn events_end_at_blank_lines_whatever_the_line_breaks_and_piece_sizes() {
        let body = b": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata:two\ndata: lines\n\ndata: [DONE]\r\r";
        for piece in 1..body.len() {
            assert_eq!(
                decode_in_pieces(body, piece),
                vec!["{\"a\":1}", "two\nlines", "[DONE]"],
                "pieces of {piece} bytes"
            );
        }
    }

    #[test]
    fn an_unfinished_event_is_not_reported() {
        assert!(decode_in_pieces(b"data: half", 4).is_empty());
        assert!(decode_in_pieces(b": only a comment\n\n", 3).is_empty());
    }
}
