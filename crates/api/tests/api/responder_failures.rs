//! Invariant 4: a responder that fails or times out leaves the user uncharged.

use std::{sync::Arc, time::Duration};

use ports::{Responder, ResponderError};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

/// A model that is down.
fn failing_responder() -> Arc<dyn Responder> {
    Arc::new(FnResponder(|_| async {
        Err(ResponderError::Failed("upstream 500".into()))
    }))
}

/// A model that never answers.
fn stalled_responder() -> Arc<dyn Responder> {
    Arc::new(FnResponder(|_| std::future::pending()))
}

#[apply(on_every_backend)]
async fn a_failing_responder_is_a_bad_gateway_and_costs_nothing(backend: Backend) {
    let overrides = Overrides::responder(failing_responder());
    let app = spawn_app_with(backend, |_| {}, overrides).await;
    let session = app.signed_up("unlucky").await;
    for _ in 0..3 {
        assert_problem(
            app.chat(&session.access, "hello?").await,
            StatusCode::BAD_GATEWAY,
            "responder_failed",
        )
        .await;
    }
    app.assert_uncharged(&session).await;
}

#[apply(on_every_backend)]
async fn a_stalled_responder_times_out_and_costs_nothing(backend: Backend) {
    let overrides = Overrides::responder(stalled_responder());
    let app = spawn_app_with(backend, |s| s.responder.timeout_secs = 1, overrides).await;
    let session = app.signed_up("waiting").await;
    let started = std::time::Instant::now();
    assert_problem(
        app.chat(&session.access, "anyone?").await,
        StatusCode::GATEWAY_TIMEOUT,
        "responder_timeout",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout comes from configuration"
    );
    app.assert_uncharged(&session).await;
}
