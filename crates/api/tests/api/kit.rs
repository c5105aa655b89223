//! What a team plugging in its own adapters relies on: the public builder takes a responder and
//! a storage, and the conversation settings shape what the responder is sent.

use std::sync::{Arc, Mutex};

use adapters::responder::DummyResponder;
use api::startup::open_storage;
use ports::{
    Completion, CompletionRequest, CompletionStream, Responder, ResponderError, Role, Storage,
};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use secrecy::SecretString;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

/// The dummy, remembering every request it was sent.
#[derive(Default)]
pub struct Recording {
    pub requests: Mutex<Vec<CompletionRequest>>,
}

#[async_trait::async_trait]
impl Responder for Recording {
    fn model(&self) -> String {
        "recording".into()
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion, ResponderError> {
        self.requests.lock().unwrap().push(request.clone());
        DummyResponder::new().complete(request).await
    }

    async fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, ResponderError> {
        self.requests.lock().unwrap().push(request.clone());
        DummyResponder::new().stream(request).await
    }
}

/// A service with a system prompt and two exchanges of memory, whose model records every request
/// it is sent.
pub async fn recording_app(backend: Backend) -> (TestApp, Arc<Recording>) {
    let recording = Arc::new(Recording::default());
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.responder.system_prompt = Some("You are terse.".into());
            settings.responder.context_messages = 2;
        },
        Overrides::responder(recording.clone()),
    )
    .await;
    (app, recording)
}

#[apply(on_every_backend)]
async fn the_model_is_sent_the_system_prompt_and_the_last_exchanges_oldest_first(backend: Backend) {
    let (app, recording) = recording_app(backend).await;
    let session = app.signed_up("rememberer").await;
    for message in ["one", "two", "three"] {
        assert_eq!(
            app.chat(&session.access, message).await.status(),
            StatusCode::OK
        );
    }
    let requests = recording.requests.lock().unwrap().clone();
    let last: Vec<_> = requests[2]
        .messages
        .iter()
        .map(|m| (m.role, m.content.clone()))
        .collect();
    assert_eq!(
        last,
        vec![
            (Role::System, "You are terse.".to_owned()),
            (Role::User, "one".to_owned()),
            (Role::Assistant, DummyResponder::answer("one")),
            (Role::User, "two".to_owned()),
            (Role::Assistant, DummyResponder::answer("two")),
            (Role::User, "three".to_owned()),
        ]
    );
    assert_eq!(
        requests[0].messages.len(),
        2,
        "no memory before the first exchange"
    );
    assert_eq!(requests[2].max_tokens, 512);
}

/// The storage handed to the builder is the one every request uses: the configured database URL
/// points at a directory that does not exist, so nothing could work without it.
#[apply(on_every_backend)]
async fn a_storage_given_to_the_builder_serves_every_request(backend: Backend) {
    let database = test_support::TestDatabase::create(backend);
    let migrated = open_storage(&test_settings(&database.url).database).await;
    let storage: Arc<dyn Storage> = Arc::new(migrated.unwrap());
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.database.url =
                SecretString::from("sqlite:///nonexistent-directory/never-created.db".to_owned());
        },
        Overrides {
            responder: None,
            storage: Some(storage.clone()),
        },
    )
    .await;
    let session = app.signed_up("custom").await;
    assert_eq!(
        app.chat(&session.access, "hi").await.status(),
        StatusCode::OK
    );
    let user = domain::UserId(user_id_of(&session.access));
    assert_eq!(storage.completed_chat_count(user).await.unwrap(), 1);
    assert_eq!(
        storage
            .find_by_id(user)
            .await
            .unwrap()
            .unwrap()
            .tokens
            .get(),
        3900
    );
    contract_tests::storage::assert_ledger_consistent(&*storage).await;
}
