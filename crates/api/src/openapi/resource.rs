//! [`ApiResource`]: how every JSON API route is registered. A route is added together with the
//! `#[utoipa::path]` that documents it, and its method and path are read from that documentation,
//! so nothing can be served undocumented or documented at a path it is not served at.

use std::{collections::BTreeMap, rc::Rc};

use actix_web::{
    FromRequest, Handler, HttpResponse, Responder, Route,
    dev::{AppService, HttpServiceFactory},
    http::{Method, header},
    middleware::{Condition, DefaultHeaders},
    web,
};
use utoipa::openapi::{
    RefOr, Required, Type,
    extensions::ExtensionsBuilder,
    path::HttpMethod,
    request_body::RequestBody,
    response::Response,
    schema::{Schema, SchemaType},
};
use utoipa_actix_web::OpenApiFactory;

use crate::problem::ApiError;

/// Makes one route afresh (a resource served at two paths needs each of its routes twice).
type RouteMaker = Rc<dyn Fn() -> Route>;

/// Routes of the JSON API that share their serving options, each with the operation that
/// documents it. Register it with `utoipa_actix_web`'s `ServiceConfig::service`, which adds the
/// operations to the document:
///
/// ```ignore
/// cfg.service(
///     ApiResource::seed()
///         .no_store()
///         .route(accounts::__path_login, accounts::login),
/// );
/// ```
///
/// Other methods on a served path get a problem+json 405 with `Allow`.
#[derive(Default)]
pub struct ApiResource {
    without_trailing_slash: bool,
    no_store: bool,
    routes: BTreeMap<String, Vec<(Method, RouteMaker)>>,
    paths: utoipa::openapi::path::Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl ApiResource {
    /// Routes served at exactly their documented paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes of the seed contract: each also served without its trailing slash, without a
    /// redirect (clients that do not follow redirects must keep working). The document lists
    /// that second form under the path's `x-aliases`.
    pub fn seed() -> Self {
        Self {
            without_trailing_slash: true,
            ..Self::default()
        }
    }

    /// `Cache-Control: no-store` on every response, errors included, for routes that handle
    /// credentials, tokens or keys: no cache may keep one.
    pub fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }

    /// Serves `handler` at the method(s) and path its documentation `doc` (the `__path_<handler>`
    /// struct `#[utoipa::path]` generates) declares.
    pub fn route<D, F, Args>(mut self, doc: D, handler: F) -> Self
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let served = self.routes.entry(D::path()).or_default();
        for method in D::methods() {
            let method = actix_method(&method);
            let handler = handler.clone();
            let route_method = method.clone();
            served.push((
                method,
                Rc::new(move || web::method(route_method.clone()).to(handler.clone())),
            ));
        }
        self.paths.merge(doc.paths());
        doc.schemas(&mut self.schemas);
        self
    }

    /// Every path a route is served at: the documented ones, and their aliases.
    fn served_paths(path: &str, without_trailing_slash: bool) -> Vec<String> {
        match path.strip_suffix('/') {
            Some(alias) if without_trailing_slash && !alias.is_empty() => {
                vec![path.to_owned(), alias.to_owned()]
            }
            _ => vec![path.to_owned()],
        }
    }
}

impl HttpServiceFactory for ApiResource {
    fn register(self, config: &mut AppService) {
        for (path, routes) in self.routes {
            let allow = routes
                .iter()
                .map(|(method, _)| method.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            for served in Self::served_paths(&path, self.without_trailing_slash) {
                let allow = allow.clone();
                let mut resource = web::resource(served)
                    .wrap(Condition::new(
                        self.no_store,
                        DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")),
                    ))
                    .default_service(web::to(move || method_not_allowed(allow.clone())));
                for (_, route) in &routes {
                    resource = resource.route(route());
                }
                resource.register(config);
            }
        }
    }
}

impl OpenApiFactory for ApiResource {
    fn paths(&self) -> utoipa::openapi::path::Paths {
        let mut paths = self.paths.clone();
        for (path, item) in paths.paths.iter_mut() {
            let aliases = &Self::served_paths(path, self.without_trailing_slash)[1..];
            if !aliases.is_empty() {
                item.extensions = Some(ExtensionsBuilder::new().add("x-aliases", aliases).build());
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                if let Some(body) = &mut operation.request_body {
                    absent_rather_than_null(body);
                }
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        spell_links_in_camel_case(response);
                    }
                }
            }
        }
        paths
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(self.schemas.iter().cloned());
    }
}

/// A 405 naming the methods the path has (RFC 9110 requires `Allow`), as an [`ApiError`], so a
/// scope that renders errors its own way (`/v1/`) renders it too.
async fn method_not_allowed(allow: String) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow: Some(allow) })
}

/// utoipa marks a body optional by typing it `Option<T>`, which it also writes as "`T` or
/// `null`"; but an optional body is one that may be left out, and a `null` document is refused
/// like any other non-object. Each media type of an optional body is described as `T` alone.
fn absent_rather_than_null(body: &mut RequestBody) {
    if matches!(body.required, Some(Required::True)) {
        return;
    }
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &mut content.schema else {
            continue;
        };
        let is_null = |item: &RefOr<Schema>| {
            matches!(item, RefOr::T(Schema::Object(object))
                if object.schema_type == SchemaType::Type(Type::Null))
        };
        if one_of.items.len() == 2 && one_of.items.iter().any(is_null) {
            content.schema = one_of.items.iter().find(|item| !is_null(item)).cloned();
        }
    }
}

/// utoipa 5 writes a link's fields in snake case (`operation_id`, `request_body`), which no
/// client understands (fixed in utoipa 6): the response's links are written out here instead,
/// with the field names OpenAPI defines.
fn spell_links_in_camel_case(response: &mut Response) {
    if response.links.is_empty() {
        return;
    }
    let links: serde_json::Map<String, serde_json::Value> = std::mem::take(&mut response.links)
        .into_iter()
        .map(|(name, link)| {
            let link = match serde_json::to_value(link) {
                Ok(serde_json::Value::Object(fields)) => fields
                    .into_iter()
                    .map(|(field, value)| (camel_case(&field), value))
                    .collect(),
                _ => serde_json::Map::new(),
            };
            (name, serde_json::Value::Object(link))
        })
        .collect();
    response
        .extensions
        .get_or_insert_with(Default::default)
        .insert("links".to_owned(), links.into());
}

fn camel_case(snake: &str) -> String {
    let mut words = snake.split('_');
    let first = words.next().unwrap_or_default().to_owned();
    words.fold(first, |mut camel, word| {
        let mut chars = word.chars();
        if let Some(initial) = chars.next() {
            camel.extend(initial.to_uppercase());
            camel.push_str(chars.as_str());
        }
        camel
    })
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}
