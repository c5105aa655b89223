//! `/api-keys/`: a user's long-lived API keys. Every response carries `Cache-Control: no-store`
//! (the creation answer holds the secret); every request needs a login (see
//! `application::api_keys`).

use actix_web::{HttpResponse, web};
use application::AppError;
use domain::FieldErrors;
use ports::ApiKey;
use serde::Serialize;

use super::rfc3339;
use crate::{
    extract::{Authenticated, FormOrJson},
    problem::ApiError,
    state::AppState,
};

/// A key as listed: everything but the secret.
#[derive(Serialize)]
struct KeyView {
    id: i64,
    name: String,
    prefix: String,
    created_at: String,
    last_used_at: Option<String>,
    expires_at: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.0,
            name: key.name,
            prefix: key.prefix,
            created_at: rfc3339(key.created_at),
            last_used_at: key.last_used_at.map(rfc3339),
            expires_at: key.expires_at.map(rfc3339),
        }
    }
}

/// The creation answer: the key and, this once, its secret.
#[derive(Serialize)]
struct CreatedView {
    id: i64,
    name: String,
    key: String,
    prefix: String,
    created_at: String,
    expires_at: Option<String>,
}

/// `POST /api-keys/` with `{"name"?, "expires_in_days"?}` → 201 with the secret `key`.
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let name = body.optional_string("name", &mut errors);
    let days = body.optional_integer("expires_in_days", &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors).into());
    }
    let issued = state
        .api_keys
        .create(&caller, name.as_deref(), days)
        .await?;
    Ok(HttpResponse::Created().json(CreatedView {
        id: issued.key.id.0,
        name: issued.key.name,
        key: issued.secret,
        prefix: issued.key.prefix,
        created_at: rfc3339(issued.key.created_at),
        expires_at: issued.key.expires_at.map(rfc3339),
    }))
}

/// The list answer.
#[derive(Serialize)]
struct ListView {
    results: Vec<KeyView>,
}

/// `GET /api-keys/` → `{"results": [...]}`, newest first, without secrets.
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let keys = state.api_keys.list(&caller).await?;
    Ok(HttpResponse::Ok().json(ListView {
        results: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// `DELETE /api-keys/{id}/` → 204; the key stops working at once.
pub async fn revoke(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.api_keys.revoke(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
