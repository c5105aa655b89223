//! The error responses of an operation, described from the error catalogue
//! ([`crate::problem::catalogue`]): one response per status, whose `code` is one of the codes the
//! operation can answer with that status, in problem+json or (under `/v1/`) OpenAI's shape.

use std::collections::BTreeMap;

use utoipa::openapi::{
    AllOfBuilder, ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
    response::Response,
};

use crate::problem::ProblemKind;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Declares a type naming the problems an operation can answer with, by their constants in
/// [`crate::problem::catalogue`]; listed in `#[utoipa::path(responses(..))]` it adds one
/// problem+json response per status. A code that is not in the catalogue does not compile.
macro_rules! problems {
    ($(#[$meta:meta])* $vis:vis $name:ident = [$($kind:ident),+ $(,)?]) => {
        $crate::openapi::problems::error_responses!(
            Problem; $(#[$meta])* $vis $name = [$($kind),+]
        );
    };
}
pub(crate) use problems;

/// Like [`problems!`], for the routes under `/v1/`, whose errors take OpenAI's shape.
macro_rules! openai_errors {
    ($(#[$meta:meta])* $vis:vis $name:ident = [$($kind:ident),+ $(,)?]) => {
        $crate::openapi::problems::error_responses!(
            OpenAi; $(#[$meta])* $vis $name = [$($kind),+]
        );
    };
}
pub(crate) use openai_errors;

/// What [`problems!`] and [`openai_errors!`] expand to.
macro_rules! error_responses {
    ($shape:ident; $(#[$meta:meta])* $vis:vis $name:ident = [$($kind:ident),+]) => {
        $(#[$meta])*
        $vis struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::openapi::problems::responses(
                    $crate::openapi::problems::Shape::$shape,
                    &[$(&$crate::problem::catalogue::$kind),+],
                )
            }
        }
    };
}
pub(crate) use error_responses;

/// How an error body is written.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `application/problem+json` (RFC 9457), the schema `Problem`.
    Problem,
    /// OpenAI's `{"error": {"message", "type", "param", "code"}}`, the schema `OpenAiErrorBody`.
    OpenAi,
}

/// One error response per status among `kinds`, written in `shape`.
pub fn responses(shape: Shape, kinds: &[&ProblemKind]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status = BTreeMap::<u16, Vec<&ProblemKind>>::new();
    for kind in kinds {
        by_status
            .entry(kind.status.as_u16())
            .or_default()
            .push(kind);
    }
    by_status
        .into_iter()
        .map(|(status, kinds)| (status.to_string(), response(shape, status, &kinds).into()))
        .collect()
}

fn response(shape: Shape, status: u16, kinds: &[&ProblemKind]) -> Response {
    let description = kinds
        .iter()
        .map(|kind| format!("- `{}`: {}", kind.code, kind.when))
        .collect::<Vec<_>>()
        .join("\n");
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(kinds.iter().map(|kind| kind.code)));
    let (media_type, schema) = match shape {
        Shape::Problem => {
            let narrowed = ObjectBuilder::new()
                .property(
                    "status",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([status])),
                )
                .property("code", code);
            let schema = AllOfBuilder::new()
                .item(Ref::from_schema_name("Problem"))
                .item(narrowed);
            (PROBLEM_JSON, schema)
        }
        Shape::OpenAi => {
            let narrowed =
                ObjectBuilder::new().property("error", ObjectBuilder::new().property("code", code));
            let schema = AllOfBuilder::new()
                .item(Ref::from_schema_name("OpenAiErrorBody"))
                .item(narrowed);
            ("application/json", schema)
        }
    };
    let mut response = ResponseBuilder::new().description(description).content(
        media_type,
        ContentBuilder::new().schema(Some(schema)).build(),
    );
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Token realm=\"api\"`: how to authenticate."))
                .build(),
        );
    }
    if status == 429 || status == 503 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before retrying."))
                .build(),
        );
    }
    response.build()
}
