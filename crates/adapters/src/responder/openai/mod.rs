//! An OpenAI-compatible chat completions server as the responder: OpenAI itself, vLLM,
//! llama.cpp's `llama-server`, Ollama, LiteLLM and the like.
//!
//! One `POST {base_url}/chat/completions` per answer: a whole answer asks with `"stream": false`
//! and reads `choices[0].message.content`; a streamed one asks with `"stream": true` and
//! `stream_options.include_usage`, and reads server-sent `chat.completion.chunk`s until `[DONE]`.
//! Requests that got no answer, or a 429/502/503/504, are tried again (see `retry`) while the
//! first byte is still due within the configured budget; once an answer has begun, nothing is
//! retried. Every other failure is [`ResponderError::Failed`], with the upstream's words in the
//! warn log only. The API key travels only in the `Authorization` header, marked sensitive, and
//! is scrubbed from any upstream text before it is logged.
//!
//! Timeouts and the concurrency limit are the wrappers' business ([`super::TimeoutResponder`],
//! [`super::LimitedResponder`]); dropping a call or a stream drops its connection.

mod retry;
mod sse;
mod stream;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use ports::{Completion, CompletionRequest, CompletionStream, Responder, ResponderError};
use reqwest::{
    Url,
    header::{AUTHORIZATION, HeaderValue, RETRY_AFTER},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use wire::{ChatRequest, ChatResponse, without_nul};

/// Most bytes of an upstream error body kept for the log.
const MAX_LOGGED_ERROR_BYTES: usize = 2048;

/// How to reach the server.
pub struct OpenAiConfig {
    /// The API root as the official SDKs take it, `/v1` included
    /// (`https://api.openai.com/v1`, `http://127.0.0.1:8080/v1`); a trailing slash is fine.
    pub base_url: String,
    /// The model to ask for.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<SecretString>,
    /// How long after a call begins its answer may still start: retries that would begin later
    /// are not made. Also bounds each connection attempt.
    pub first_byte_timeout: Duration,
    /// Attempts after the first one, at most.
    pub max_retries: u32,
}

/// A configuration the responder cannot work with. No variant shows the API key.
#[derive(Debug, thiserror::Error)]
pub enum OpenAiConfigError {
    /// `base_url` is not an absolute `http(s)://` URL without credentials, query or fragment.
    #[error("{0}")]
    BaseUrl(String),
    /// `model` is empty.
    #[error("must not be empty")]
    Model,
    /// The API key cannot be sent in an HTTP header.
    #[error("must be visible ASCII characters, without spaces")]
    ApiKey,
    /// The HTTP client (TLS included) could not be set up.
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// `POST {base_url}/chat/completions` through one pooled HTTP client (rustls for HTTPS, with the
/// Mozilla root certificates compiled in).
pub struct OpenAiResponder {
    client: reqwest::Client,
    endpoint: Url,
    model: String,
    authorization: Option<HeaderValue>,
    api_key: Option<SecretString>,
    first_byte_timeout: Duration,
    max_retries: u32,
}

/// The chat completions endpoint under `base_url`.
pub fn completions_url(base_url: &str) -> Result<Url, OpenAiConfigError> {
    let invalid = |reason: &str| OpenAiConfigError::BaseUrl(reason.to_owned());
    let base = base_url.trim().trim_end_matches('/');
    let url = Url::parse(&format!("{base}/chat/completions"))
        .map_err(|e| OpenAiConfigError::BaseUrl(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // A URL ends up in logs and error chains; a key belongs in `api_key`.
        return Err(invalid(
            "must not contain credentials (set the API key on its own)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

/// The `Authorization` header for `api_key`, marked sensitive so HTTP-level logs skip it.
fn bearer(api_key: &SecretString) -> Result<HeaderValue, OpenAiConfigError> {
    let key = api_key.expose_secret();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(OpenAiConfigError::ApiKey);
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_invalid| OpenAiConfigError::ApiKey)?;
    value.set_sensitive(true);
    Ok(value)
}

impl OpenAiConfig {
    /// Checks the configuration without building anything (settings validation).
    pub fn validate(&self) -> Result<(), OpenAiConfigError> {
        completions_url(&self.base_url)?;
        if self.model.trim().is_empty() {
            return Err(OpenAiConfigError::Model);
        }
        self.api_key.as_ref().map(bearer).transpose()?;
        Ok(())
    }
}

/// Why an attempt got no usable answer.
struct Failure {
    /// For the log.
    reason: String,
    /// Whether another attempt may succeed.
    retryable: bool,
    /// The upstream's own `Retry-After`.
    retry_after: Option<Duration>,
}

impl OpenAiResponder {
    /// The responder for `config`, with its own pooled client (make one per process).
    pub fn new(config: OpenAiConfig) -> Result<Self, OpenAiConfigError> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.first_byte_timeout)
            .user_agent(concat!("chat-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(OpenAiConfigError::Client)?;
        Ok(Self {
            client,
            endpoint: completions_url(&config.base_url)?,
            model: config.model.trim().to_owned(),
            authorization: config.api_key.as_ref().map(bearer).transpose()?,
            api_key: config.api_key,
            first_byte_timeout: config.first_byte_timeout,
            max_retries: config.max_retries,
        })
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Sends `body`, retrying what is worth retrying while the answer may still start in time.
    async fn send(&self, body: &ChatRequest<'_>) -> Result<reqwest::Response, ResponderError> {
        let give_up_at = Instant::now() + self.first_byte_timeout;
        let mut retries = 0;
        loop {
            let failure = match self.attempt(body).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let wait = failure
                .retry_after
                .unwrap_or_else(|| retry::backoff(retries));
            let retry = failure.retryable
                && retries < self.max_retries
                && Instant::now() + wait < give_up_at;
            if !retry {
                return Err(failed(
                    format!("after {} attempt(s): {}", retries + 1, failure.reason),
                    "upstream request failed",
                ));
            }
            tracing::info!(
                retry = retries + 1,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                reason = %failure.reason,
                "retrying the upstream request"
            );
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// One request; a success status is the answer, anything else a [`Failure`].
    async fn attempt(&self, body: &ChatRequest<'_>) -> Result<reqwest::Response, Failure> {
        let mut request = self.client.post(self.endpoint.clone()).json(body);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let mut response = request.send().await.map_err(|error| Failure {
            reason: format!("no answer: {}", causes(&error)),
            retryable: true,
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::parse_retry_after(value, chrono::Utc::now()));
        let mut text = Vec::new();
        while text.len() < MAX_LOGGED_ERROR_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => text.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        text.truncate(MAX_LOGGED_ERROR_BYTES);
        Err(Failure {
            reason: format!(
                "status {status}: {}",
                self.scrub(&String::from_utf8_lossy(&text))
            ),
            retryable: retry::retryable_status(status.as_u16()),
            retry_after,
        })
    }

    /// `text` from upstream without the API key, should the upstream echo it back.
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() => {
                text.replace(key.expose_secret(), "[REDACTED]")
            }
            _ => text.to_owned(),
        }
    }
}

/// An error and its causes, one after the other (reqwest's own message is only the outermost).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Logs why the upstream gave no usable answer (the client only learns that it failed).
fn failed(reason: String, what: &'static str) -> ResponderError {
    tracing::warn!(%reason, "{what}");
    ResponderError::Failed(reason)
}

#[async_trait]
impl Responder for OpenAiResponder {
    fn model(&self) -> String {
        self.model.clone()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        let response = self
            .send(&ChatRequest::new(&self.model, &request, false))
            .await?;
        let unusable = |reason: String| failed(reason, "upstream answer unusable");
        let body = response
            .bytes()
            .await
            .map_err(|e| unusable(format!("reading the answer: {}", causes(&e))))?;
        let answer: ChatResponse = serde_json::from_slice(&body)
            .map_err(|e| unusable(format!("unreadable answer: {e}")))?;
        let text = answer
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| unusable("the answer has no text".into()))?;
        Ok(Completion {
            text: without_nul(text),
            model: answer
                .model
                .filter(|model| !model.is_empty())
                .map_or_else(|| self.model.clone(), without_nul),
            usage: answer.usage.map(Into::into),
        })
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        let response = self
            .send(&ChatRequest::new(&self.model, &request, true))
            .await?;
        Ok(stream::pieces(response.bytes_stream(), self.model.clone()))
    }
}

#[cfg(test)]
mod tests;
