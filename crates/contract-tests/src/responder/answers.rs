//! Whole answers.

use std::sync::Arc;

use futures_util::future::join_all;
use ports::Responder;

use super::{MAX_TOKENS, request};

/// The model has a name to list (`GET /v1/models`) and store with each answer.
pub async fn the_model_has_a_name(responder: Arc<dyn Responder>) {
    assert!(!responder.model().trim().is_empty());
}

/// A whole answer has text and names the model that wrote it.
pub async fn a_whole_answer_has_text_and_names_its_model(responder: Arc<dyn Responder>) {
    let completion = responder
        .complete(request("Say hello in a few words."))
        .await
        .expect("an answer");
    assert!(!completion.text.trim().is_empty(), "{completion:?}");
    assert!(!completion.model.trim().is_empty(), "{completion:?}");
    assert!(!completion.text.contains('\0'), "storable as text");
}

/// Usage, when reported, counts a prompt and stays within `max_tokens` for the answer.
pub async fn reported_usage_counts_the_prompt_and_stays_within_max_tokens(
    responder: Arc<dyn Responder>,
) {
    let completion = responder
        .complete(request("Name a colour."))
        .await
        .expect("an answer");
    if let Some(usage) = completion.usage {
        assert!(usage.prompt_tokens > 0, "{usage:?}");
        assert!(
            usage.completion_tokens <= u64::from(MAX_TOKENS),
            "{usage:?}"
        );
    }
}

/// Concurrent requests are each answered.
pub async fn concurrent_requests_are_all_answered(responder: Arc<dyn Responder>) {
    let answers = join_all((0..8).map(|i| {
        let responder = responder.clone();
        async move { responder.complete(request(&format!("Count to {i}."))).await }
    }))
    .await;
    for answer in answers {
        assert!(answer.is_ok_and(|c| !c.text.is_empty()));
    }
}
