//! The HTTP contract (see `docs/api.md`). Seed paths answer with and without their trailing slash
//! (no redirect: clients that do not follow redirects must keep working).

mod accounts;
mod api_keys;
mod chat;
mod history;
mod pages;
pub mod v1;

use actix_web::{Route, http::header, middleware::DefaultHeaders, web};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::problem::method_not_allowed;

/// Registers every API route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    auth_route(cfg, "/register", || web::post().to(accounts::register));
    auth_route(cfg, "/login", || web::post().to(accounts::login));
    auth_route(cfg, "/token/refresh", || web::post().to(accounts::refresh));
    auth_route(cfg, "/logout", || web::post().to(accounts::logout));
    seed_route(cfg, "/chatView", || web::post().to(chat::send));
    seed_route(cfg, "/token_balance", || web::get().to(chat::balance));
    cfg.service(
        web::resource("/api-keys/")
            .wrap(no_store())
            .route(web::post().to(api_keys::create))
            .route(web::get().to(api_keys::list))
            .default_service(web::to(method_not_allowed)),
    );
    cfg.service(
        web::resource("/api-keys/{id}/")
            .wrap(no_store())
            .route(web::delete().to(api_keys::revoke))
            .default_service(web::to(method_not_allowed)),
    );
    cfg.service(
        web::resource("/chats/")
            .route(web::get().to(history::chats))
            .default_service(web::to(method_not_allowed)),
    );
    cfg.service(
        web::resource("/statement/")
            .route(web::get().to(history::statement))
            .default_service(web::to(method_not_allowed)),
    );
    v1::configure(cfg);
}

/// An instant as the API writes every one: RFC 3339 in UTC with `Z`, fractional seconds only
/// when there are any.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `Cache-Control: no-store` on every response of a resource that handles credentials, errors
/// included, so no cache keeps a token, a password or a key.
fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"))
}

/// Serves `route` at `path/` and `path`; other methods get a problem+json 405.
fn seed_route(cfg: &mut web::ServiceConfig, path: &str, route: impl Fn() -> Route) {
    for path in [format!("{path}/"), path.to_owned()] {
        cfg.service(
            web::resource(path)
                .route(route())
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// Like [`seed_route`], for endpoints that handle credentials or tokens: every response of theirs,
/// errors included, carries `Cache-Control: no-store` so no cache keeps a token or a password.
fn auth_route(cfg: &mut web::ServiceConfig, path: &str, route: impl Fn() -> Route) {
    for path in [format!("{path}/"), path.to_owned()] {
        cfg.service(
            web::resource(path)
                .wrap(no_store())
                .route(route())
                .default_service(web::to(method_not_allowed)),
        );
    }
}
