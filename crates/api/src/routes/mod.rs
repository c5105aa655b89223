//! The HTTP contract (see `docs/api.md`). Seed paths answer with and without their trailing slash
//! (no redirect: clients that do not follow redirects must keep working).
//!
//! Every route is registered as an [`ApiResource`] route with the `#[utoipa::path]` that
//! documents it, so the OpenAPI document ([`crate::openapi`]) lists exactly what is served.

mod accounts;
mod api_keys;
mod chat;
mod history;
mod pages;
pub mod v1;

use chrono::{DateTime, SecondsFormat, Utc};
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
    cfg.service(
        ApiResource::new()
            .no_store()
            .route(api_keys::__path_create, api_keys::create)
            .route(api_keys::__path_list, api_keys::list)
            .route(api_keys::__path_revoke, api_keys::revoke),
    );
    cfg.service(
        ApiResource::new()
            .route(history::__path_chats, history::chats)
            .route(history::__path_statement, history::statement),
    );
    v1::configure(cfg);
}

/// An instant as the API writes every one: RFC 3339 in UTC with `Z`, fractional seconds only
/// when there are any.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
