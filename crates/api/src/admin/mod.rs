//! The admin panel at `/admin/`: server-rendered HTML for superusers, one module per
//! page or concern. Handlers only parse input, call the admin use cases in
//! `application::admin` and render askama templates (compiled in, auto-escaped).
//!
//! - [`session`]: the session cookie, the logged-in-admin extractor and CSRF checks.
//! - [`login`]: `/admin/login/` and `/admin/logout/`.
//! - [`dashboard`], [`users`], [`chats`]: the pages.
//! - [`error`]: every failure as an HTML page (never problem+json, never a 500 for bad input).
//! - [`views`]: the template structs.
//!
//! POST handlers take the form before the [`session::Admin`] extractor, so the body is always read
//! (an unread body can leave the keep-alive connection unusable), then check the session, then the
//! CSRF token, and only then call a use case.

mod chats;
mod dashboard;
mod error;
mod login;
mod session;
mod users;
mod views;

use std::time::Duration;

use actix_web::{
    HttpResponse, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::{DefaultHeaders, Next, from_fn},
    web,
};

pub use error::AdminPageError;
pub use session::CookiePolicy;

/// How long an admin session lives after login.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// Registers `/admin` and everything under it. Unknown paths and wrong methods get HTML 404/405
/// pages; malformed forms and query strings get an HTML 400 page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .app_data(
                web::FormConfig::default()
                    .limit(16 * 1024)
                    .error_handler(|err, _| AdminPageError::BadRequest(err.to_string()).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| AdminPageError::BadRequest(err.to_string()).into()),
            )
            .wrap(from_fn(refuse_cross_site_forms))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    )),
            )
            .service(page("", web::get().to(to_dashboard)))
            .service(page("/", web::get().to(dashboard::page)))
            .service(
                page("/login/", web::get().to(login::form)).route(web::post().to(login::submit)),
            )
            .service(page("/logout/", web::post().to(login::logout)))
            .service(page("/users/", web::get().to(users::list)))
            .service(page("/users/{id}/", web::get().to(users::detail)))
            .service(page("/users/{id}/tokens/", web::post().to(users::adjust)))
            .service(page(
                "/users/{id}/active/",
                web::post().to(users::set_active),
            ))
            .service(page(
                "/users/{id}/password/",
                web::post().to(users::reset_password),
            ))
            .service(page(
                "/users/{id}/login-lock/",
                web::post().to(users::lift_login_lock),
            ))
            .service(page(
                "/users/{id}/api-keys/{key}/revoke/",
                web::post().to(users::revoke_api_key),
            ))
            .service(page("/chats/", web::get().to(chats::list)))
            .service(page("/chats/{id}/", web::get().to(chats::detail)))
            .default_service(web::to(error::not_found)),
    );
}

/// Refuses a cross-site browser form post to any admin page (see `extract::cross_site`) with the
/// HTML 403 page, before the form is read or a session looked at.
async fn refuse_cross_site_forms<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if crate::extract::cross_site::is_cross_site_form_post(req.request()) {
        let refusal = AdminPageError::Forbidden(
            "Cross-site form posts are not accepted. Open the admin panel at its own address and \
             submit the form there.",
        );
        return Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A resource whose other methods get the HTML 405 page.
fn page(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(error::method_not_allowed))
}

/// `/admin` → `/admin/` (the panel has one canonical form of each path).
async fn to_dashboard() -> HttpResponse {
    see_other("/admin/")
}

/// A 303 redirect: after a POST the browser follows with a GET, so a reload never repeats it.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The page number of a `page` query parameter: absent or empty is 1; anything that is not an
/// integer is a missing page (404), as are pages below 1 (decided by the use case).
pub fn page_number(raw: Option<&str>) -> Result<i64, AdminPageError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(1),
        Some(raw) => raw.parse().map_err(|_| AdminPageError::NotFound),
    }
}
