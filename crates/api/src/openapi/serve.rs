//! `GET /openapi.json` and `GET /docs`.

use actix_web::{HttpResponse, http::header, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::problem::only_get;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";

/// The document, serialised once at startup, and the pages that serve it.
#[derive(Clone)]
pub struct Docs {
    json: web::Bytes,
}

impl Docs {
    /// Serialises [`super::document`].
    pub fn new() -> Result<Self, serde_json::Error> {
        Ok(Self {
            json: serde_json::to_vec(&super::document())?.into(),
        })
    }

    /// Registers `/openapi.json`, and Swagger UI at `/docs/` (`/docs` redirects there, so the
    /// page's relative links resolve). Swagger UI is compiled into the binary and loads nothing
    /// from elsewhere; it does not ask the public validator about the document either.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let json = self.json.clone();
        cfg.service(
            web::resource(DOCUMENT_PATH)
                .route(web::get().to(move || {
                    let json = json.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(json)
                    }
                }))
                .default_service(web::to(only_get)),
        );
        cfg.service(
            web::resource(DOCS_PATH)
                .route(web::get().to(|| async {
                    HttpResponse::Found()
                        .insert_header((header::LOCATION, format!("{DOCS_PATH}/")))
                        .finish()
                }))
                .default_service(web::to(only_get)),
        );
        cfg.service(
            SwaggerUi::new(format!("{DOCS_PATH}/{{_:.*}}")).config(
                Config::new([DOCUMENT_PATH])
                    .validator_url("none")
                    .persist_authorization(true)
                    .try_it_out_enabled(true),
            ),
        );
    }
}
