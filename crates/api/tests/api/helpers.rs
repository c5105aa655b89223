//! One way to start the service in tests, and the requests every test makes.

use std::sync::Arc;

use adapters::storage::DieselStorage;
use api::{Application, Settings, startup::open_storage};
use ports::{Responder, Storage};
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use test_support::{Backend, TestDatabase};

/// The storage ports tests read state through.
pub use ports::{AdminRepository, ChatRepository, LedgerRepository};

/// The JWT secret every test server signs with, so tests can forge tokens deliberately.
pub const TEST_SECRET: &str = "integration-test-secret-0123456789abcdef";

/// A running service.
pub struct TestApp {
    pub address: String,
    /// The `/metrics` listener of its own, when `server.metrics_addr` asked for one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub database: Arc<TestDatabase>,
    pub settings: Settings,
    handle: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Per-token pricing at one token per token (reservations and charges equal token counts).
pub fn per_token_pricing(settings: &mut Settings) {
    settings.ledger.pricing = api::settings::PricingKind::PerToken;
    settings.ledger.price_per_1k_prompt_tokens = 1000;
    settings.ledger.price_per_1k_completion_tokens = 1000;
}

/// Settings for tests: a free port, cheap bcrypt, a known secret.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::defaults().unwrap();
    settings.server.port = 0;
    settings.server.workers = 4;
    settings.database.url = SecretString::from(database_url.to_owned());
    settings.auth.bcrypt_cost = 4;
    settings.auth.jwt_secret = Some(SecretString::from(TEST_SECRET.to_owned()));
    settings
}

/// Parts a test replaces when starting the service, through the public builder
/// (`Application::builder(settings).responder(..).storage(..)`).
#[derive(Default)]
pub struct Overrides {
    /// Used instead of the configured responder (still wrapped in the timeout).
    pub responder: Option<Arc<dyn Responder>>,
    /// Used instead of the database `database.url` names.
    pub storage: Option<Arc<dyn Storage>>,
}

impl Overrides {
    /// The configured storage, with `responder` answering.
    pub fn responder(responder: Arc<dyn Responder>) -> Self {
        Self {
            responder: Some(responder),
            storage: None,
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}, Overrides::default()).await
}

pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
    overrides: Overrides,
) -> TestApp {
    spawn_on(
        Arc::new(TestDatabase::create(backend)),
        configure,
        overrides,
    )
    .await
}

/// Starts the service on an existing test database (to restart it, for instance).
pub async fn spawn_on(
    database: Arc<TestDatabase>,
    configure: impl FnOnce(&mut Settings),
    overrides: Overrides,
) -> TestApp {
    let mut settings = test_settings(&database.url);
    configure(&mut settings);
    let mut builder = Application::builder(settings.clone());
    if let Some(responder) = overrides.responder {
        builder = builder.responder(responder);
    }
    if let Some(storage) = overrides.storage {
        builder = builder.storage(storage);
    }
    let application = builder.build().await.expect("service starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_address = application
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let handle = application.handle();
    // Not `run_until_stopped`: a test process must keep its own Ctrl-C.
    let running = tokio::spawn(application.run_until(std::future::pending()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        // A hung server fails the test instead of hanging the suite.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    TestApp {
        address,
        metrics_address,
        client,
        database,
        settings,
        handle,
        running,
    }
}

/// Tokens of a logged-in user.
pub struct Session {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops the server gracefully and waits until it has, background jobs and database pool
    /// included.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.running.await.unwrap().unwrap();
    }

    /// The use cases on the same database, built by the same builder as the CLI builds them.
    pub async fn services(&self) -> application::Services {
        Application::builder(self.settings.clone())
            .services()
            .await
            .unwrap()
    }

    /// A second view of the same database, for assertions on what was stored.
    pub async fn storage(&self) -> DieselStorage {
        open_storage(&self.settings.database).await.unwrap()
    }

    /// A `POST /chatView/` with `body` as the user `access` belongs to, ready to send (from a
    /// spawned task, say).
    pub fn chat_request(&self, access: &str, body: Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/chatView/"))
            .header("Authorization", format!("Token {access}"))
            .json(&body)
    }

    pub async fn post(&self, path: &str, body: Value, access: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = access {
            request = request.header("Authorization", format!("Token {token}"));
        }
        request.send().await.unwrap()
    }

    /// GET `path` with `Authorization: Bearer <credential>` (an access token or an API key).
    pub async fn get(&self, path: &str, credential: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api-keys/` with `body`, authenticated by `credential`.
    pub async fn create_api_key(&self, credential: &str, body: Value) -> Response {
        self.client
            .post(self.url("/api-keys/"))
            .bearer_auth(credential)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A new API key of the user logged in with `access`: its id and secret.
    pub async fn api_key(&self, access: &str) -> (i64, String) {
        let response = self.create_api_key(access, json!({"name": "test"})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_i64().unwrap(),
            body["key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post(
            "/register/",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post(
            "/login/",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Registers `username` with a valid password and logs in.
    pub async fn signed_up(&self, username: &str) -> Session {
        assert_eq!(
            self.register(username, "password123").await.status(),
            StatusCode::CREATED
        );
        let body: Value = self
            .login(username, "password123")
            .await
            .json()
            .await
            .unwrap();
        Session {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn chat(&self, access: &str, message: &str) -> Response {
        self.post("/chatView/", json!({"message": message}), Some(access))
            .await
    }

    /// `POST /chatView/` with `"stream": true`; the response is read with [`crate::sse::Events`].
    pub async fn stream_chat(&self, access: &str, message: &str) -> Response {
        self.post(
            "/chatView/",
            json!({"message": message, "stream": true}),
            Some(access),
        )
        .await
    }

    /// How many completed (charged) chats the user `access` belongs to has stored.
    pub async fn completed_chats(&self, access: &str) -> i64 {
        let user = domain::UserId(user_id_of(access));
        self.storage()
            .await
            .completed_chat_count(user)
            .await
            .unwrap()
    }

    /// Every stored chat of the user `access` belongs to, newest first (completed and
    /// interrupted), as the admin panel lists them.
    pub async fn chats_of(&self, access: &str) -> Vec<ports::ChatRecord> {
        let filter = ports::ChatFilter {
            user: Some(domain::UserId(user_id_of(access))),
            ..Default::default()
        };
        let window = ports::Window {
            offset: 0,
            limit: 1000,
        };
        let page = self
            .storage()
            .await
            .list_chats(filter, window)
            .await
            .unwrap();
        page.items.into_iter().map(|line| line.chat).collect()
    }

    pub async fn balance(&self, access: &str) -> i64 {
        let response = self
            .client
            .get(self.url("/token_balance/"))
            .header("Authorization", format!("Token {access}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["tokens"]
            .as_i64()
            .unwrap()
    }

    /// The user still has the sign-up grant and no chat, and the ledger adds up: whatever was
    /// reserved for a failed chat was refunded.
    pub async fn assert_uncharged(&self, session: &Session) {
        assert_eq!(self.balance(&session.access).await, 4000);
        assert!(self.chats_of(&session.access).await.is_empty());
        self.assert_ledger_consistent().await;
    }

    /// The ledger invariants for every user, read straight from the database.
    pub async fn assert_ledger_consistent(&self) {
        contract_tests::storage::assert_ledger_consistent(&self.storage().await).await;
    }
}

/// Asserts a problem+json error with `status` and `code`; returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(
        body["type"].as_str().is_some() && body["title"].as_str().is_some(),
        "{body}"
    );
    assert!(
        body["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "every error names its request: {body}"
    );
    body
}

/// The user id inside a token we issued.
pub fn user_id_of(access: &str) -> i64 {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Value>(
        access,
        &jsonwebtoken::DecodingKey::from_secret(TEST_SECRET.as_bytes()),
        &validation,
    )
    .unwrap();
    data.claims["sub"].as_str().unwrap().parse().unwrap()
}

/// The statuses of spawned requests, in order; a request task that panicked fails the test.
pub async fn join_statuses(
    requests: impl IntoIterator<Item = tokio::task::JoinHandle<StatusCode>>,
) -> Vec<StatusCode> {
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// How many of `statuses` are 200 (a chat answered and charged) and how many 402 (refused for
/// want of tokens).
pub fn answered_and_refused(statuses: &[StatusCode]) -> (usize, usize) {
    let count = |wanted: StatusCode| statuses.iter().filter(|s| **s == wanted).count();
    (count(StatusCode::OK), count(StatusCode::PAYMENT_REQUIRED))
}

/// A responder made of one async function from the last message to the answer text, for tests
/// that need a model that fails, stalls or is slow. Its stream is the whole answer in one delta.
pub struct FnResponder<F>(pub F);

#[async_trait::async_trait]
impl<F, Fut> ports::Responder for FnResponder<F>
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<String, ports::ResponderError>> + Send,
{
    fn model(&self) -> String {
        "test".into()
    }

    async fn complete(
        &self,
        request: ports::CompletionRequest,
    ) -> Result<ports::Completion, ports::ResponderError> {
        let last = request.messages.last().map(|m| m.content.clone());
        let text = (self.0)(last.unwrap_or_default()).await?;
        Ok(ports::Completion {
            text,
            model: self.model(),
            usage: None,
        })
    }

    async fn stream(
        &self,
        request: ports::CompletionRequest,
    ) -> Result<ports::CompletionStream, ports::ResponderError> {
        let completion = self.complete(request).await?;
        Ok(Box::pin(futures_util::stream::iter([
            Ok(ports::StreamPiece::Delta(completion.text)),
            Ok(ports::StreamPiece::Finished {
                model: completion.model,
                usage: None,
            }),
        ])))
    }
}

/// Polls `check` until it returns `Some`, for at most `within`; panics naming `what` otherwise.
/// The way to wait for something another task does, without sleeping a guessed time.
pub async fn eventually<T, F, Fut>(within: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
