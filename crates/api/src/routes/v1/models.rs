//! `GET /v1/models`.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use utoipa::ToSchema;

use crate::{
    extract::CurrentUser, openapi::problems::openai_errors, problem::ApiError, state::AppState,
};

/// OpenAI's model object.
#[derive(Serialize, ToSchema)]
struct ModelView {
    /// What to name in `model`.
    #[schema(example = "dummy")]
    id: String,
    #[schema(value_type = String, pattern = "^model$")]
    object: &'static str,
    /// Unix seconds.
    created: i64,
    #[schema(value_type = String, example = "chat-api")]
    owned_by: &'static str,
}

/// OpenAI's list envelope.
#[derive(Serialize, ToSchema)]
struct ModelList {
    #[schema(value_type = String, pattern = "^list$")]
    object: &'static str,
    data: Vec<ModelView>,
}

openai_errors!(
    /// What `GET /v1/models` can refuse with.
    ModelsErrors = [NOT_AUTHENTICATED, TOKEN_INVALID, STORAGE_UNAVAILABLE]
);

/// `GET /v1/models` → the configured responder's model (the dummy's is `dummy`).
#[utoipa::path(
    get,
    path = "/models",
    operation_id = "list_models",
    tag = "openai",
    summary = "The models this server answers with",
    security(("Token" = []), ("Bearer" = [])),
    responses((status = 200, description = "The models.", body = ModelList), ModelsErrors),
)]
pub async fn list(
    state: web::Data<AppState>,
    _caller: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .models
        .list()
        .into_iter()
        .map(|model| ModelView {
            id: model.id,
            object: "model",
            created: model.since.timestamp(),
            owned_by: "chat-api",
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list",
        data,
    }))
}
