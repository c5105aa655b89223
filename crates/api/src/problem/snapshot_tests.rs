//! Snapshots of every problem+json response the JSON API produces: status, the headers a client
//! acts on and the body, one file per status and code (and per distinct body shape) in
//! `snapshots/`. A changed body fails here until its snapshot is reviewed and accepted
//! (`cargo insta review`, or rename the `.snap.new` file written beside the old one).

use actix_web::{
    App, HttpResponse,
    body::{MessageBody, to_bytes},
    test::{TestRequest, call_service, init_service},
    web,
};
use domain::Tokens;
use serde::Deserialize;
use test_support::assert_problem_snapshot;

use super::*;

async fn record<B: MessageBody>(response: HttpResponse<B>) -> serde_json::Value {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body()).await.unwrap_or_default();
    test_support::problem_snapshot::record(
        status,
        |name| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        },
        &body,
    )
}

/// The snapshot of each variant. The match has no wildcard, so a new variant does not compile
/// until it is named here, and then its example in [`examples`] and its snapshot follow.
fn snapshot_name(error: &ApiError) -> &'static str {
    match error {
        ApiError::App(error) => match error {
            AppError::Validation(_) => "invalid_request_field_errors",
            AppError::UsernameTaken => "username_taken",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::TokenInvalid(_) => "token_invalid",
            AppError::LoginRequired => "login_required",
            AppError::NotFound(_) => "not_found_invalid_page",
            AppError::TooManyApiKeys { .. } => "too_many_api_keys",
            AppError::ModelNotFound(_) => "model_not_found",
            AppError::InsufficientTokens { .. } => "insufficient_tokens",
            AppError::IdempotencyKeyReused => "idempotency_key_reused",
            AppError::IdempotencyKeyInProgress => "idempotency_key_in_progress",
            AppError::ResponderFailed => "responder_failed",
            AppError::ResponderTimeout => "responder_timeout",
            AppError::ResponderBusy { .. } => "responder_busy",
            AppError::Throttled { .. } => "throttled",
            AppError::StorageUnavailable => "storage_unavailable",
            AppError::Internal(_) => "internal_error",
        },
        ApiError::MalformedBody(_) => "invalid_request_malformed_body",
        ApiError::PayloadTooLarge { .. } => "payload_too_large",
        ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
        ApiError::NotAuthenticated => "not_authenticated",
        ApiError::NotFound => "not_found",
        ApiError::MethodNotAllowed => "method_not_allowed",
        ApiError::CrossSiteRequest => "cross_site_request",
        ApiError::NotReady(_) => "not_ready",
    }
}

/// The internal cause of the `internal_error` example, which must reach the log and never the body.
const INTERNAL_CAUSE: &str = "relation \"chats\" does not exist";

fn examples() -> Vec<ApiError> {
    let mut fields = FieldErrors::new();
    fields.add("username", "This field may not be blank.");
    fields.add(
        "password",
        "Ensure this field has no more than 128 characters.",
    );
    fields.add("password", "This password is too common.");
    vec![
        AppError::Validation(fields).into(),
        AppError::UsernameTaken.into(),
        AppError::InvalidCredentials.into(),
        AppError::TokenInvalid(TokenError::Expired).into(),
        AppError::LoginRequired.into(),
        AppError::NotFound(application::pagination::INVALID_PAGE).into(),
        AppError::TooManyApiKeys { limit: 20 }.into(),
        AppError::ModelNotFound("gpt-4o".into()).into(),
        AppError::InsufficientTokens {
            needed: Tokens::new(100),
            available: Tokens::new(40),
        }
        .into(),
        AppError::IdempotencyKeyReused.into(),
        AppError::IdempotencyKeyInProgress.into(),
        AppError::ResponderFailed.into(),
        AppError::ResponderTimeout.into(),
        AppError::ResponderBusy {
            retry_after_secs: 3,
        }
        .into(),
        AppError::Throttled {
            retry_after_secs: 42,
        }
        .into(),
        AppError::StorageUnavailable.into(),
        AppError::Internal(INTERNAL_CAUSE.into()).into(),
        ApiError::MalformedBody("JSON parse error - expected value at line 1 column 1".into()),
        ApiError::PayloadTooLarge { limit: 65_536 },
        ApiError::UnsupportedMediaType("text/plain".into()),
        ApiError::NotAuthenticated,
        ApiError::NotFound,
        ApiError::MethodNotAllowed,
        ApiError::CrossSiteRequest,
        ApiError::NotReady(crate::ops::health::NotReady::DatabaseUnreachable),
    ]
}

/// `error`'s response as rendered while a request is handled (so with its `request_id`).
fn rendered(error: &ApiError) -> HttpResponse {
    request_id::sync_scope(request_id::RequestId::generate(), || error.error_response())
}

#[actix_web::test]
async fn every_api_error_renders_its_reviewed_body() {
    let mut seen = std::collections::BTreeSet::new();
    for error in examples() {
        let name = snapshot_name(&error);
        assert!(seen.insert(name), "{name} has two examples");
        let record = record(rendered(&error)).await;
        assert_problem_snapshot!(name, record);
    }
}

/// Every error as `/v1/` answers it: OpenAI's shape, the same status, code and headers. One
/// snapshot for all, since only the shape differs from the problem+json ones above.
#[actix_web::test]
async fn every_api_error_has_a_reviewed_openai_shape() {
    let mut records = serde_json::Map::new();
    for error in examples() {
        let (status, _) = error.status_and_code();
        let response = crate::routes::v1::error::OpenAiErrorBody::response(&error);
        let record = record(response).await;
        assert_eq!(record["status"], status.as_u16());
        assert_eq!(
            record["body"]["error"]["code"],
            error.status_and_code().1,
            "{record}"
        );
        records.insert(snapshot_name(&error).to_owned(), record);
    }
    assert_problem_snapshot!("openai_shape", serde_json::Value::Object(records));
}

#[actix_web::test]
async fn an_internal_error_keeps_its_cause_out_of_the_body() {
    let record =
        record(ApiError::App(AppError::Internal(INTERNAL_CAUSE.into())).error_response()).await;
    assert!(!record.to_string().contains("chats"), "{record}");
}

#[actix_web::test]
async fn every_reason_a_token_is_refused_gets_the_same_body() {
    let body_for = |reason| async {
        record(ApiError::App(AppError::TokenInvalid(reason)).error_response()).await
    };
    let expected = body_for(TokenError::Expired).await;
    for reason in [
        TokenError::Malformed,
        TokenError::WrongKind,
        TokenError::Revoked,
        TokenError::AccountGone(domain::UserId(7)),
        TokenError::AccountInactive(domain::UserId(7)),
        TokenError::CredentialsChanged(domain::UserId(7)),
        TokenError::OtherAccount {
            owner: domain::UserId(7),
            presenter: domain::UserId(8),
        },
        TokenError::UnknownApiKey,
        TokenError::ApiKeyExpired(ports::ApiKeyId(7)),
    ] {
        let shown = reason.to_string();
        assert_eq!(body_for(reason).await, expected, "{shown}");
    }
}

#[derive(Debug, Deserialize)]
struct Page {
    #[allow(dead_code)]
    page: u32,
}

async fn ok() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// actix's own extractors, answered by the handlers [`extractor_errors`] registers: the detail
/// carries actix's and serde's wording, so a dependency update that changes it is a reviewed diff.
#[actix_web::test]
async fn actix_extractor_errors_render_their_reviewed_bodies() {
    let metrics = std::sync::Arc::new(crate::ops::Metrics::new(None).unwrap());
    let app = init_service(
        App::new()
            .configure(extractor_errors)
            .wrap(crate::ops::RequestObserver::new(metrics))
            .route("/query", web::get().to(|_: web::Query<Page>| ok()))
            .route("/path/{id}", web::get().to(|_: web::Path<u32>| ok()))
            .route("/json", web::post().to(|_: web::Json<Page>| ok()))
            .route("/form", web::post().to(|_: web::Form<Page>| ok())),
    )
    .await;
    let requests = [
        (
            "extractor_query_string",
            TestRequest::get().uri("/query?page=-1"),
        ),
        (
            "extractor_path_parameter",
            TestRequest::get().uri("/path/abc"),
        ),
        (
            "extractor_json_body",
            TestRequest::post()
                .uri("/json")
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"page\": \"one\"}"),
        ),
        (
            "extractor_form_body",
            TestRequest::post()
                .uri("/form")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload("page=one"),
        ),
    ];
    for (name, request) in requests {
        let response = call_service(&app, request.to_request()).await;
        let record = record(response.into_parts().1).await;
        assert_problem_snapshot!(name, record);
    }
}
