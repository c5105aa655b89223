//! The problem+json responses of an operation, described from the error catalogue
//! ([`crate::problem::catalogue`]): one response per status, whose `code` is one of the codes the
//! operation can answer with that status.

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
        $(#[$meta])*
        $vis struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::openapi::problems::responses(&[
                    $(&$crate::problem::catalogue::$kind),+
                ])
            }
        }
    };
}
pub(crate) use problems;

/// One problem+json response per status among `kinds`.
pub fn responses(kinds: &[&ProblemKind]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status = BTreeMap::<u16, Vec<&ProblemKind>>::new();
    for kind in kinds {
        by_status
            .entry(kind.status.as_u16())
            .or_default()
            .push(kind);
    }
    by_status
        .into_iter()
        .map(|(status, kinds)| (status.to_string(), response(status, &kinds).into()))
        .collect()
}

fn response(status: u16, kinds: &[&ProblemKind]) -> Response {
    let description = kinds
        .iter()
        .map(|kind| format!("- `{}`: {}", kind.code, kind.when))
        .collect::<Vec<_>>()
        .join("\n");
    let narrowed = ObjectBuilder::new()
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status])),
        )
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(kinds.iter().map(|kind| kind.code))),
        );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(narrowed);
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
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
