//! `/v1/`: the OpenAI-compatible face, so the official SDKs and any tool speaking OpenAI's chat
//! completions API work against chat-api unchanged. Same credentials as the rest of the API (an
//! access token or an API key), same ledger; errors keep their status and `code` but take
//! OpenAI's shape (see [`error`]).

mod completions;
pub mod error;
mod models;

use actix_web::{middleware::from_fn, web};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use crate::{openapi::ApiResource, problem::not_found};

/// Registers the `/v1` scope.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/v1")
            .wrap(from_fn(error::openai_errors))
            .service(
                ApiResource::new()
                    .route(completions::__path_create, completions::create)
                    .route(models::__path_list, models::list),
            )
            .default_service(web::to(not_found)),
    );
}
