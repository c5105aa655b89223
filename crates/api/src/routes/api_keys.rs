//! `/api-keys/`: a user's long-lived API keys. Every response carries `Cache-Control: no-store`
//! (the creation answer holds the secret); every request needs a login (see
//! `application::api_keys`).

use actix_web::{HttpResponse, web};
use application::AppError;
use domain::FieldErrors;
use ports::ApiKey;
use serde::Serialize;
use utoipa::{
    ToSchema,
    openapi::{
        ObjectBuilder, OneOfBuilder, Type,
        schema::{Schema, SchemaType},
    },
};

use super::rfc3339;
use crate::{
    extract::{Authenticated, FormOrJson},
    openapi::{WHITESPACE, problems::problems},
    problem::ApiError,
    state::AppState,
};

/// A new key's label and lifetime, as JSON.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct NewKey {
    #[schema(schema_with = key_name)]
    name: Option<String>,
    #[schema(schema_with = lifetime_in_days)]
    expires_in_days: Option<i64>,
}

/// The same as a form, which has no `null`.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct NewKeyForm {
    #[schema(schema_with = key_name)]
    name: Option<String>,
    #[schema(schema_with = lifetime_in_days_as_text)]
    expires_in_days: Option<i64>,
}

/// `name`: at most 100 characters once trimmed, no control characters; absent or `null` is empty.
fn key_name() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(format!(
            "^{WHITESPACE}*[^\\u0000-\\u001f\\u007f-\\u009f]{{0,100}}{WHITESPACE}*$"
        )))
        .description(Some(
            "A label for the key: at most 100 characters once trimmed, no control characters.",
        ))
        .examples(["laptop"])
        .into()
}

/// `expires_in_days`: 1 to 3650, as a number or (as forms send it) its digits; absent or `null`
/// never expires.
fn lifetime_in_days() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(3650)),
        )
        .item(lifetime_in_days_as_text())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(LIFETIME))
        .into()
}

/// `expires_in_days` as digits, with the surrounding whitespace the server trims.
fn lifetime_in_days_as_text() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^{WHITESPACE}*\\+?0*(3650|36[0-4][0-9]|3[0-5][0-9]{{2}}|[12][0-9]{{3}}|[1-9][0-9]{{0,2}}){WHITESPACE}*$"
        )))
        .description(Some(LIFETIME))
        .into()
}

const LIFETIME: &str = "Days until the key expires, 1 to 3650; without it the key never expires.";

/// A key as listed: everything but the secret.
#[derive(Serialize, ToSchema)]
struct KeyView {
    #[schema(example = 1)]
    id: i64,
    #[schema(example = "laptop")]
    name: String,
    /// The key's first characters, to recognise it by.
    #[schema(example = "cak_Ab3dE6gH")]
    prefix: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// When the key last authenticated a request, if ever.
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    /// When the key stops working; `null`: never.
    #[schema(format = DateTime)]
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
#[derive(Serialize, ToSchema)]
struct CreatedView {
    #[schema(example = 1)]
    id: i64,
    #[schema(example = "laptop")]
    name: String,
    /// The secret: shown this once, stored only as a hash.
    #[schema(
        pattern = "^cak_",
        example = "cak_Ab3dE6gHiJkLmNoPqRsTuVwXyZ0123456789abcdEf"
    )]
    key: String,
    #[schema(example = "cak_Ab3dE6gH")]
    prefix: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// When the key stops working; `null`: never.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

problems!(
    /// What `POST /api-keys/` can refuse with.
    CreateProblems = [
        INVALID_REQUEST,
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        LOGIN_REQUIRED,
        CROSS_SITE_REQUEST,
        TOO_MANY_API_KEYS,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        STORAGE_UNAVAILABLE,
    ]
);

/// `POST /api-keys/` with `{"name"?, "expires_in_days"?}` → 201 with the secret `key`.
#[utoipa::path(
    post,
    path = "/api-keys/",
    operation_id = "create_api_key",
    tag = "api keys",
    summary = "Create an API key",
    description = "A long-lived key that authenticates like an access token (`Token cak_…` or \
        `Bearer cak_…`), except for managing keys, which takes a login. The secret is in this \
        answer only. At most 20 live keys per account.",
    security(("Token" = []), ("Bearer" = [])),
    // Optional: without a body (or with an empty one) the key has no name and never expires.
    request_body(content(
        (Option<NewKey> = "application/json"),
        (Option<NewKeyForm> = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Created.", body = CreatedView, links(
            ("revoke" = (
                operation_id = "revoke_api_key",
                parameters(("id" = "$response.body#/id")),
                description = "Revoke the new key.",
            )),
        )),
        CreateProblems,
    ),
)]
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
#[derive(Serialize, ToSchema)]
struct ListView {
    /// Newest first.
    results: Vec<KeyView>,
}

problems!(
    /// What `GET /api-keys/` can refuse with.
    ListProblems = [
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        LOGIN_REQUIRED,
        STORAGE_UNAVAILABLE,
    ]
);

/// `GET /api-keys/` → `{"results": [...]}`, newest first, without secrets.
#[utoipa::path(
    get,
    path = "/api-keys/",
    operation_id = "list_api_keys",
    tag = "api keys",
    summary = "The caller's API keys",
    description = "Expired and revoked keys included until they are pruned; never a secret.",
    security(("Token" = []), ("Bearer" = [])),
    responses((status = 200, description = "The keys.", body = ListView), ListProblems),
)]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let keys = state.api_keys.list(&caller).await?;
    Ok(HttpResponse::Ok().json(ListView {
        results: keys.into_iter().map(KeyView::from).collect(),
    }))
}

problems!(
    /// What `DELETE /api-keys/{id}/` can refuse with.
    RevokeProblems = [
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        LOGIN_REQUIRED,
        NOT_FOUND,
        STORAGE_UNAVAILABLE,
    ]
);

/// `DELETE /api-keys/{id}/` → 204; the key stops working at once.
#[utoipa::path(
    delete,
    path = "/api-keys/{id}/",
    operation_id = "revoke_api_key",
    tag = "api keys",
    summary = "Revoke an API key",
    description = "The key stops working at once. Another account's key is `not_found`, like \
        one that does not exist.",
    security(("Token" = []), ("Bearer" = [])),
    params(("id" = i64, Path, description = "The key's `id`.")),
    responses((status = 204, description = "Revoked."), RevokeProblems),
)]
pub async fn revoke(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.api_keys.revoke(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
