//! The HTTP contract (see `docs/api.md`). Seed paths answer with and without their trailing slash
//! (no redirect: clients that do not follow redirects must keep working).
//!
//! Every route is registered as an [`ApiResource`] route with the `#[utoipa::path]` that
//! documents it, so the OpenAPI document ([`crate::openapi`]) lists exactly what is served.

mod accounts;
mod chat;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::openapi::ApiResource;

/// Registers every API route, each with its documentation.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        ApiResource::seed()
            .no_store()
            .route(accounts::__path_register, accounts::register)
            .route(accounts::__path_login, accounts::login)
            .route(accounts::__path_refresh, accounts::refresh)
            .route(accounts::__path_logout, accounts::logout),
    );
    cfg.service(
        ApiResource::seed()
            .route(chat::__path_send, chat::send)
            .route(chat::__path_balance, chat::balance),
    );
}
