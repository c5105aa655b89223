//! Invariant 4: a responder that fails or times out leaves the user uncharged.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use domain::ChatMessage;
use ports::{Responder, ResponderError};
use reqwest::StatusCode;

use crate::helpers::*;

/// A model that is down.
struct FailingResponder;

#[async_trait]
impl Responder for FailingResponder {
    async fn respond(&self, _: &ChatMessage) -> Result<String, ResponderError> {
        Err(ResponderError::Failed("upstream 500".into()))
    }
}

/// A model that never answers.
struct StalledResponder;

#[async_trait]
impl Responder for StalledResponder {
    async fn respond(&self, _: &ChatMessage) -> Result<String, ResponderError> {
        std::future::pending().await
    }
}

async fn assert_uncharged(app: &TestApp, session: &Session) {
    assert_eq!(app.balance(&session.access).await, 4000);
    let user = domain::UserId(user_id_of(&session.access));
    assert_eq!(app.storage().await.chat_count(user).await.unwrap(), 0);
    app.assert_ledger_consistent().await;
}

test_support::backend_tests! {
    async fn a_failing_responder_is_a_bad_gateway_and_costs_nothing(backend: Backend) {
        let overrides = Overrides { responder: Some(Arc::new(FailingResponder)) };
        let app = spawn_app_with(backend, |_| {}, overrides).await;
        let session = app.signed_up("unlucky").await;
        for _ in 0..3 {
            assert_problem(app.chat(&session.access, "hello?").await, StatusCode::BAD_GATEWAY, "responder_failed").await;
        }
        assert_uncharged(&app, &session).await;
    }

    async fn a_stalled_responder_times_out_and_costs_nothing(backend: Backend) {
        let overrides = Overrides { responder: Some(Arc::new(StalledResponder)) };
        let app = spawn_app_with(backend, |s| s.responder.timeout_secs = 1, overrides).await;
        let session = app.signed_up("waiting").await;
        let started = std::time::Instant::now();
        assert_problem(app.chat(&session.access, "anyone?").await, StatusCode::GATEWAY_TIMEOUT, "responder_timeout").await;
        assert!(started.elapsed() < Duration::from_secs(10), "the timeout comes from configuration");
        assert_uncharged(&app, &session).await;
    }
}
