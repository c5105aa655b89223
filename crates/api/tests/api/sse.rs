//! Reading a Server-Sent Events response as a browser's `EventSource` does: item by item as the
//! bytes arrive, so a test can act between two events.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

/// Longest a test waits for the next piece of a stream.
const PATIENCE: Duration = Duration::from_secs(10);

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// What a stream carries: events, and comment lines (heartbeats).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    Comment(String),
}

/// The items of an SSE response, read incrementally.
pub struct Events {
    response: Response,
    buffer: Vec<u8>,
}

impl Events {
    /// Wraps a response that must be `200 text/event-stream`.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "text/event-stream");
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next item, or `None` once the server has ended the body. Panics if nothing arrives
    /// for [`PATIENCE`].
    pub async fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Some(parse(std::str::from_utf8(&block).unwrap().trim_end()));
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("the stream went silent")
                .unwrap();
            match chunk {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => {
                    assert!(self.buffer.is_empty(), "a truncated event");
                    return None;
                }
            }
        }
    }

    /// The next event, skipping comments; `None` at the end of the body.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.next_item().await? {
                Item::Event(event) => return Some(event),
                Item::Comment(_) => continue,
            }
        }
    }

    /// Every remaining event, until the body ends.
    pub async fn rest(mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

fn parse(block: &str) -> Item {
    if let Some(comment) = block.strip_prefix(':') {
        return Item::Comment(comment.trim().to_owned());
    }
    let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(name));
    let data = field("data: ").unwrap_or_else(|| panic!("no data in {block:?}"));
    Item::Event(Event {
        // Without an `event:` line the event is a `message`, as `EventSource` names it (OpenAI's
        // chunks); data that is not JSON (OpenAI's `[DONE]`) is kept as a string.
        name: field("event: ").unwrap_or("message").to_owned(),
        data: serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned())),
    })
}

/// The text of a `delta` event.
pub fn delta_text(event: &Event) -> &str {
    assert_eq!(event.name, "delta", "{event:?}");
    event.data["text"].as_str().unwrap()
}
