//! `/v1/`: the OpenAI-compatible face, so the official SDKs and any tool speaking OpenAI's chat
//! completions API work against chat-api unchanged. Same credentials as the rest of the API (an
//! access token or an API key), same ledger; errors keep their status and `code` but take
//! OpenAI's shape (see [`error`]).

mod completions;
pub mod error;
mod models;

use actix_web::{middleware::from_fn, web};

use crate::problem::{method_not_allowed, not_found};

/// Registers the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(error::openai_errors))
            .service(
                web::resource("/chat/completions")
                    .route(web::post().to(completions::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/models")
                    .route(web::get().to(models::list))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(not_found)),
    );
}
