//! A stand-in for an OpenAI-compatible model server, on `127.0.0.1` at a free port, scripted by
//! the test: no traffic leaves the machine.
//!
//! Each request gets the next [`Reply`] from the script ([`StubUpstream::push`]), or the
//! fallback ([`Reply::Echo`] unless [`StubUpstream::set_fallback`] says otherwise): a fixed
//! response (any status, headers, body — a malformed one too), a server-sent-events stream whose
//! later steps wait behind a [`Gate`] the test opens, a hang, a closed connection. Every request
//! is captured ([`StubUpstream::requests`]), and a client that goes away before its reply is
//! complete is counted ([`StubUpstream::disconnects`]), which is how a test proves that dropping
//! a stream cancelled the upstream request.
//!
//! ```ignore
//! let stub = StubUpstream::start().await;
//! let gate = Gate::new();
//! let mut steps = stream_steps(&["Hel", "lo"], "m", Some((3, 2)));
//! steps.insert(2, SseStep::Wait(gate.clone())); // "lo" waits for the test
//! stub.push(Reply::Sse(steps));
//! // … point the client at stub.base_url(), read "Hel", then:
//! gate.open();
//! assert_eq!(stub.requests()[0].body["model"], "m");
//! ```
//!
//! Each connection serves one request and is closed after its reply (`connection: close`).

mod http;
mod reply;

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
};

pub use http::CapturedRequest;
pub use reply::{Gate, Reply, SseStep, chunk, stream_steps};
use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::{JoinHandle, JoinSet},
};

/// A running stub server; stopped (every connection with it) when dropped.
pub struct StubUpstream {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    requests: Mutex<Vec<CapturedRequest>>,
    request_arrived: Notify,
    disconnects: AtomicUsize,
    disconnected: Notify,
}

/// How a reply ended.
enum Outcome {
    /// Written whole.
    Complete,
    /// The client went away first.
    PeerGone,
    /// The script cut the connection.
    Cut,
}

/// Locks `mutex`, whether or not a panicking test poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits until `done()` holds, re-checking whenever `notify` fires (no polling, no lost wake-up).
async fn until(notify: &Notify, done: impl Fn() -> bool) {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if done() {
            return;
        }
        notified.await;
    }
}

impl StubUpstream {
    /// Starts a stub on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stub upstream");
        let address = listener.local_addr().expect("stub address");
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept(listener, shared.clone()));
        Self {
            address,
            shared,
            accept,
        }
    }

    /// The API root to configure a client with, `/v1` included.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The socket address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Adds `reply` to the script: the next request without a scripted reply gets it.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// The reply for requests when the script is empty (initially [`Reply::Echo`]).
    pub fn set_fallback(&self, reply: Reply) {
        *lock(&self.shared.fallback) = Some(reply);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until at least `count` requests have arrived; returns them all.
    pub async fn wait_for_requests(&self, count: usize) -> Vec<CapturedRequest> {
        until(&self.shared.request_arrived, || {
            lock(&self.shared.requests).len() >= count
        })
        .await;
        self.requests()
    }

    /// How many clients went away before their reply was complete.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` clients went away before their reply was complete.
    pub async fn wait_for_disconnects(&self, count: usize) {
        until(&self.shared.disconnected, || self.disconnects() >= count).await;
    }
}

impl Drop for StubUpstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A base URL nothing listens on (connections to it are refused).
pub fn refused_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    let address = listener.local_addr().expect("probe address");
    drop(listener);
    format!("http://{address}/v1")
}

/// Accepts connections until aborted; aborting drops (and so aborts) every connection task.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((socket, _)) = accepted {
                    connections.spawn(serve(socket, shared.clone()));
                }
            }
            Some(_finished) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    let Some(request) = http::read_request(&mut socket).await else {
        return;
    };
    let reply = lock(&shared.script)
        .pop_front()
        .or_else(|| lock(&shared.fallback).clone())
        .unwrap_or(Reply::Echo);
    let body = request.body.clone();
    lock(&shared.requests).push(request);
    shared.request_arrived.notify_waiters();
    match answer(&mut socket, reply, &body).await {
        Outcome::Complete => {
            let _closing = socket.shutdown().await;
        }
        Outcome::PeerGone => {
            shared.disconnects.fetch_add(1, Ordering::SeqCst);
            shared.disconnected.notify_waiters();
        }
        Outcome::Cut => {}
    }
}

async fn answer(socket: &mut TcpStream, reply: Reply, request: &Value) -> Outcome {
    let written = |ok: bool| if ok { None } else { Some(Outcome::PeerGone) };
    match reply {
        Reply::Fixed {
            status,
            headers,
            body,
        } => {
            let defaults = [
                ("content-type", "application/json".to_owned()),
                ("content-length", body.len().to_string()),
            ];
            let text = format!("{}{body}", http::head(status, &headers, &defaults));
            written(http::write(socket, &text).await).unwrap_or(Outcome::Complete)
        }
        Reply::Sse(steps) => {
            let defaults = [
                ("content-type", "text/event-stream".to_owned()),
                ("transfer-encoding", "chunked".to_owned()),
            ];
            if let Some(gone) = written(http::write(socket, &http::head(200, &[], &defaults)).await)
            {
                return gone;
            }
            for step in steps {
                let text = match step {
                    SseStep::Data(data) => format!("data: {data}\n\n"),
                    SseStep::Raw(raw) => raw,
                    SseStep::Wait(gate) => {
                        tokio::select! {
                            () = gate.pass() => continue,
                            () = http::peer_gone(socket) => return Outcome::PeerGone,
                        }
                    }
                    SseStep::Hang => {
                        http::peer_gone(socket).await;
                        return Outcome::PeerGone;
                    }
                    SseStep::Cut => return Outcome::Cut,
                };
                if let Some(gone) = written(http::write(socket, &http::chunk(&text)).await) {
                    return gone;
                }
            }
            written(http::write(socket, http::LAST_CHUNK).await).unwrap_or(Outcome::Complete)
        }
        Reply::Echo => Box::pin(answer(socket, reply::echo(request), request)).await,
        Reply::Hang => {
            http::peer_gone(socket).await;
            Outcome::PeerGone
        }
        Reply::Close => Outcome::Cut,
        Reply::After(gate, inner) => {
            tokio::select! {
                () = gate.pass() => {}
                () = http::peer_gone(socket) => return Outcome::PeerGone,
            }
            Box::pin(answer(socket, *inner, request)).await
        }
    }
}

#[cfg(test)]
mod tests;
