//! The HTTP contract (see `docs/api.md`). Seed paths answer with and without their trailing slash
//! (no redirect: clients that do not follow redirects must keep working).

mod accounts;
mod chat;

use actix_web::{Route, http::header, middleware::DefaultHeaders, web};

use crate::problem::method_not_allowed;

/// Registers every API route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    auth_route(cfg, "/register", || web::post().to(accounts::register));
    auth_route(cfg, "/login", || web::post().to(accounts::login));
    auth_route(cfg, "/token/refresh", || web::post().to(accounts::refresh));
    auth_route(cfg, "/logout", || web::post().to(accounts::logout));
    seed_route(cfg, "/chatView", || web::post().to(chat::send));
    seed_route(cfg, "/token_balance", || web::get().to(chat::balance));
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
                .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
                .route(route())
                .default_service(web::to(method_not_allowed)),
        );
    }
}
