//! `GET /v1/models`.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::{extract::CurrentUser, problem::ApiError, state::AppState};

/// OpenAI's model object.
#[derive(Serialize)]
struct ModelView {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
}

/// OpenAI's list envelope.
#[derive(Serialize)]
struct ModelList {
    object: &'static str,
    data: Vec<ModelView>,
}

/// `GET /v1/models` → the configured responder's model (the dummy's is `dummy`).
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
