//! The OpenAPI 3.1 document of the JSON API, generated from the code, and the pages that serve it.
//!
//! Each handler carries its `#[utoipa::path]` (method, path, bodies, responses); the routes are
//! registered through utoipa-actix-web with an [`ApiResource`], which serves a handler only
//! together with its documentation and reads its method and path from it. The document is
//! therefore built by the same registration that builds the router ([`document`]), and
//! `tests/api/openapi.rs` checks the two still agree, path for path.
//!
//! Served at `GET /openapi.json`, and browsable at `GET /docs` with Swagger UI compiled into the
//! binary (no CDN, no network at build or run time).

pub mod problems;
mod resource;
mod serve;

use actix_web::App;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_actix_web::AppExt;

pub use self::{resource::ApiResource, serve::Docs};
use crate::{
    problem::Problem,
    routes::{self, v1::error::OpenAiErrorBody},
};

/// The characters Rust's `str::trim` removes (Unicode `White_Space`), as a regular-expression
/// class: patterns of fields the server trims use it, so they accept exactly what it accepts.
pub const WHITESPACE: &str =
    r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Name of the security scheme of the seed contract: `Authorization: Token <access_token>`.
pub const TOKEN_SCHEME: &str = "Token";
/// Name of the standard bearer scheme, accepted alike: `Authorization: Bearer <access_token>`.
pub const BEARER_SCHEME: &str = "Bearer";

/// What the document says beyond the routes: who, what, and how to authenticate.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chat-api",
        description = "Chat turns sold for tokens. Errors are `application/problem+json` \
            (RFC 9457) with a stable `code`; every response carries `X-Request-Id`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, OpenAiErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up, login and the tokens that follow."),
        (name = "chat", description = "Chats and the token balance that pays for them."),
        (name = "api keys", description = "Long-lived keys for programs, managed with a login."),
        (name = "history", description = "The caller's own chats and ledger."),
        (name = "openai", description = "The OpenAI-compatible face: OpenAI's shapes, errors \
            included (`{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`), \
            billed like `/chatView/`."),
    ),
)]
struct ApiDoc;

/// Adds the two ways to send an access token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <access_token>`: the access token `/login/` returned, or an API key \
                 (`cak_…`), after the word `Token` (the seed contract).",
            ))),
        );
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Bearer <access_token>`: the same token, standard scheme.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document of every route [`routes::configure`] registers: built by registering them on a
/// throwaway app, exactly as each worker's app registers them.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}
