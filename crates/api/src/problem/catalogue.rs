//! Every problem `code` the JSON API answers with: its status and when. [`super::ApiError`] maps
//! each error to one of these, and the OpenAPI document describes each operation's errors from
//! them, so the two cannot disagree; `docs/api.md` lists the same table for people.

use actix_web::http::StatusCode;

/// One kind of problem: what a client branches on.
#[derive(Debug, PartialEq, Eq)]
pub struct ProblemKind {
    /// The response status.
    pub status: StatusCode,
    /// The stable machine-readable `code`.
    pub code: &'static str,
    /// When it is answered.
    pub when: &'static str,
}

/// `invalid_request` (bad request).
pub const INVALID_REQUEST: ProblemKind = ProblemKind {
    status: StatusCode::BAD_REQUEST,
    code: "invalid_request",
    when: "Malformed JSON or form, wrong types, missing, blank or too-long values, a NUL in a field, a bad `Idempotency-Key`; `errors` names each field.",
};

/// `username_taken` (bad request).
pub const USERNAME_TAKEN: ProblemKind = ProblemKind {
    status: StatusCode::BAD_REQUEST,
    code: "username_taken",
    when: "The username exists (case-insensitively), or one that looks like it does.",
};

/// `invalid_credentials` (unauthorized).
pub const INVALID_CREDENTIALS: ProblemKind = ProblemKind {
    status: StatusCode::UNAUTHORIZED,
    code: "invalid_credentials",
    when: "Wrong username or password, or an inactive account.",
};

/// `not_authenticated` (unauthorized).
pub const NOT_AUTHENTICATED: ProblemKind = ProblemKind {
    status: StatusCode::UNAUTHORIZED,
    code: "not_authenticated",
    when: "No `Authorization` header, an empty one, or an unknown scheme.",
};

/// `token_invalid` (unauthorized).
pub const TOKEN_INVALID: ProblemKind = ProblemKind {
    status: StatusCode::UNAUTHORIZED,
    code: "token_invalid",
    when: "A malformed, expired, forged, revoked or wrong-type token, or one of a deleted or inactive account.",
};

/// `insufficient_tokens` (payment required).
pub const INSUFFICIENT_TOKENS: ProblemKind = ProblemKind {
    status: StatusCode::PAYMENT_REQUIRED,
    code: "insufficient_tokens",
    when: "The balance is below the price of a chat.",
};

/// `cross_site_request` (forbidden).
pub const CROSS_SITE_REQUEST: ProblemKind = ProblemKind {
    status: StatusCode::FORBIDDEN,
    code: "cross_site_request",
    when: "A browser form post from another site.",
};

/// `login_required` (forbidden).
pub const LOGIN_REQUIRED: ProblemKind = ProblemKind {
    status: StatusCode::FORBIDDEN,
    code: "login_required",
    when: "An API key used to manage API keys: that takes an access token from `/login/`.",
};

/// `not_found` (not found).
pub const NOT_FOUND: ProblemKind = ProblemKind {
    status: StatusCode::NOT_FOUND,
    code: "not_found",
    when: "No such path, a page past the last, or an API key that is not the caller's.",
};

/// `model_not_found` (not found).
pub const MODEL_NOT_FOUND: ProblemKind = ProblemKind {
    status: StatusCode::NOT_FOUND,
    code: "model_not_found",
    when: "The model named is not one this server serves (`GET /v1/models` lists them).",
};

/// `method_not_allowed` (method not allowed).
pub const METHOD_NOT_ALLOWED: ProblemKind = ProblemKind {
    status: StatusCode::METHOD_NOT_ALLOWED,
    code: "method_not_allowed",
    when: "The path exists with other methods (`Allow` lists them).",
};

/// `idempotency_key_in_progress` (conflict).
pub const IDEMPOTENCY_KEY_IN_PROGRESS: ProblemKind = ProblemKind {
    status: StatusCode::CONFLICT,
    code: "idempotency_key_in_progress",
    when: "The first request with this `Idempotency-Key` is still running; retry later.",
};

/// `too_many_api_keys` (conflict).
pub const TOO_MANY_API_KEYS: ProblemKind = ProblemKind {
    status: StatusCode::CONFLICT,
    code: "too_many_api_keys",
    when: "The account already has the most live API keys it may have (20).",
};

/// `payload_too_large` (payload too large).
pub const PAYLOAD_TOO_LARGE: ProblemKind = ProblemKind {
    status: StatusCode::PAYLOAD_TOO_LARGE,
    code: "payload_too_large",
    when: "The body exceeds 64 KiB.",
};

/// `unsupported_media_type` (unsupported media type).
pub const UNSUPPORTED_MEDIA_TYPE: ProblemKind = ProblemKind {
    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
    code: "unsupported_media_type",
    when: "The body is neither JSON nor a form.",
};

/// `idempotency_key_reused` (unprocessable entity).
pub const IDEMPOTENCY_KEY_REUSED: ProblemKind = ProblemKind {
    status: StatusCode::UNPROCESSABLE_ENTITY,
    code: "idempotency_key_reused",
    when: "The `Idempotency-Key` was used before with a different body.",
};

/// `throttled` (too many requests).
pub const THROTTLED: ProblemKind = ProblemKind {
    status: StatusCode::TOO_MANY_REQUESTS,
    code: "throttled",
    when: "Too many attempts; `Retry-After` says when to try again.",
};

/// `internal_error` (internal server error).
pub const INTERNAL_ERROR: ProblemKind = ProblemKind {
    status: StatusCode::INTERNAL_SERVER_ERROR,
    code: "internal_error",
    when: "A bug; its cause is logged, never sent.",
};

/// `responder_failed` (bad gateway).
pub const RESPONDER_FAILED: ProblemKind = ProblemKind {
    status: StatusCode::BAD_GATEWAY,
    code: "responder_failed",
    when: "The model failed; nothing was charged.",
};

/// `responder_busy` (service unavailable).
pub const RESPONDER_BUSY: ProblemKind = ProblemKind {
    status: StatusCode::SERVICE_UNAVAILABLE,
    code: "responder_busy",
    when: "The model is at its concurrency limit; nothing was charged; retry after `Retry-After`.",
};

/// `storage_unavailable` (service unavailable).
pub const STORAGE_UNAVAILABLE: ProblemKind = ProblemKind {
    status: StatusCode::SERVICE_UNAVAILABLE,
    code: "storage_unavailable",
    when: "The database is unreachable or busy; retry after `Retry-After` (with the same `Idempotency-Key`).",
};

/// `not_ready` (service unavailable).
pub const NOT_READY: ProblemKind = ProblemKind {
    status: StatusCode::SERVICE_UNAVAILABLE,
    code: "not_ready",
    when: "`/readyz` only: the database is unreachable, migrations are missing, or the process is stopping.",
};

/// `responder_timeout` (gateway timeout).
pub const RESPONDER_TIMEOUT: ProblemKind = ProblemKind {
    status: StatusCode::GATEWAY_TIMEOUT,
    code: "responder_timeout",
    when: "The model timed out; nothing was charged.",
};

/// The whole catalogue.
pub const ALL: &[&ProblemKind] = &[
    &INVALID_REQUEST,
    &USERNAME_TAKEN,
    &INVALID_CREDENTIALS,
    &NOT_AUTHENTICATED,
    &TOKEN_INVALID,
    &INSUFFICIENT_TOKENS,
    &CROSS_SITE_REQUEST,
    &LOGIN_REQUIRED,
    &NOT_FOUND,
    &MODEL_NOT_FOUND,
    &METHOD_NOT_ALLOWED,
    &IDEMPOTENCY_KEY_IN_PROGRESS,
    &TOO_MANY_API_KEYS,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &IDEMPOTENCY_KEY_REUSED,
    &THROTTLED,
    &INTERNAL_ERROR,
    &RESPONDER_FAILED,
    &RESPONDER_BUSY,
    &STORAGE_UNAVAILABLE,
    &NOT_READY,
    &RESPONDER_TIMEOUT,
];
