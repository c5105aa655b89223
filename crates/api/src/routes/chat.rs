//! `/chatView/` and `/token_balance/`.

pub(crate) mod stream;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use application::{
    Answered, AppError, ChatOptions, SendChat, SendChatCommand, send_chat::invalid_idempotency_key,
};
use chrono::SecondsFormat;
use domain::{FieldErrors, Tokens};
use ports::ChatRecord;
use serde::Serialize;
use serde_json::json;
use tracing::Instrument;
use utoipa::{
    ToSchema,
    openapi::{ObjectBuilder, OneOfBuilder, Type, schema::Schema},
};

use crate::{
    extract::{CurrentUser, FormOrJson},
    openapi::problems::problems,
    ops::Shutdown,
    problem::ApiError,
    state::AppState,
};

/// A message to answer.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body `FormOrJson` reads.
struct ChatRequest {
    /// 1–4000 characters once trimmed.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    #[schema(example = "Hello, how are you?")]
    message: String,
    /// `true` answers Server-Sent Events while the model writes.
    #[schema(schema_with = flag)]
    stream: Option<bool>,
}

/// A flag as DRF's `BooleanField` reads it (and so `FormOrJson::boolean`): a boolean, `0` or
/// `1`, or one of its words in any case.
fn flag() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([0, 1])),
        )
        .item(
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(
                "^([Tt]([Rr][Uu][Ee])?|[Ff]([Aa][Ll][Ss][Ee])?|[Yy]([Ee][Ss])?|[Nn][Oo]?|[Oo]([Nn]|[Ff][Ff])|[01])$",
            )),
        )
        .description(Some(
            "`true` answers Server-Sent Events while the model writes: a boolean, `0`/`1`, or \
             `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`, `on`/`off` in any case.",
        ))
        .into()
}

problems!(
    /// What `POST /chatView/` can refuse with (once a stream has begun, a failure is its last
    /// event instead).
    ChatProblems = [
        INVALID_REQUEST,
        NOT_AUTHENTICATED,
        TOKEN_INVALID,
        INSUFFICIENT_TOKENS,
        CROSS_SITE_REQUEST,
        IDEMPOTENCY_KEY_IN_PROGRESS,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        IDEMPOTENCY_KEY_REUSED,
        RESPONDER_FAILED,
        RESPONDER_BUSY,
        STORAGE_UNAVAILABLE,
        RESPONDER_TIMEOUT,
    ]
);

/// `POST /chatView/` → `{"user", "message", "response", "timestamp", "tokens_charged"}`; with
/// `"stream": true`, Server-Sent Events (see [`stream`]). The use case runs in a task of its own
/// (see [`answer_whole`]).
#[utoipa::path(
    post,
    path = "/chatView/",
    operation_id = "chat",
    tag = "chat",
    summary = "Send a message, get the answer",
    description = "Charges the price of a chat (100 tokens by default) for an answered message; \
        a failed answer costs nothing. With `stream`, the answer comes as Server-Sent Events: \
        `delta` events (`{\"text\": ...}`), then `done` with the chat as the JSON answer \
        carries it plus the `balance` left, or `error` with a problem+json body.",
    security(("Token" = []), ("Bearer" = [])),
    params((
        "Idempotency-Key" = Option<String>,
        Header,
        nullable = false,
        description = "Retrying with the same key (1–255 visible ASCII characters) charges \
            once and answers the same; with another message it is refused.",
        pattern = "^[!-~]{1,255}$",
    )),
    request_body(content(
        (ChatRequest = "application/json"),
        (ChatRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The answer.", content(
            (ChatResponse = "application/json"),
            (stream::StreamEvent = "text/event-stream"),
        )),
        ChatProblems,
    ),
)]
pub async fn send(
    state: web::Data<AppState>,
    shutdown: web::Data<Shutdown>,
    CurrentUser(user): CurrentUser,
    request: HttpRequest,
    body: FormOrJson,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let message = body.string("message", &mut errors);
    let streamed = body.boolean("stream", &mut errors).unwrap_or(false);
    let Some(message) = message.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors).into());
    };
    let send_chat = state.send_chat.clone();
    let command = SendChatCommand {
        user,
        message,
        idempotency_key: idempotency_key(&request)?,
        options: ChatOptions::default(),
    };
    if streamed {
        return stream::respond(send_chat, command, &shutdown, stream::NativeEvents).await;
    }
    let answered = answer_whole(send_chat, command, &shutdown).await?;
    Ok(HttpResponse::Ok().json(ChatResponse::new(answered.settled.record, None)))
}

/// The request's `Idempotency-Key` header, if any; bytes that are not text are refused here, the
/// rest of its rules by the use case.
pub(crate) fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    match request.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(value) => Ok(Some(
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| invalid_idempotency_key())?,
        )),
    }
}

/// Runs [`SendChat::execute`] in a task of its own: a client that disconnects mid-request
/// cannot cancel a chat half-way, so the exchange is stored (and replayable by its
/// `Idempotency-Key`) or refunded. A graceful stop lets it finish while its client waits (see
/// [`crate::ops::shutdown`]).
pub(crate) async fn answer_whole(
    send_chat: Arc<SendChat>,
    command: SendChatCommand,
    shutdown: &Shutdown,
) -> Result<Answered, ApiError> {
    let chat = async move { send_chat.execute(command).await };
    Ok(shutdown
        .spawn(chat.in_current_span())
        .await
        .map_err(|e| AppError::Internal(format!("chat task failed: {e}")))??)
}

/// The seed's chat body, fields in the seed's order, plus what the exchange cost and (in a
/// stream's `done` event) the balance it left.
#[derive(Serialize, ToSchema)]
struct ChatResponse {
    /// The user's id.
    #[schema(example = 1)]
    user: i64,
    /// The message, trimmed.
    message: String,
    /// The model's answer.
    response: String,
    /// When the chat was stored: RFC 3339 in UTC with `Z`.
    #[schema(format = DateTime, example = "2025-01-01T12:00:00Z")]
    timestamp: String,
    /// What the chat cost.
    #[schema(example = 100)]
    tokens_charged: i64,
    /// The balance the chat left (in a stream's `done` event only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    balance: Option<i64>,
}

impl ChatResponse {
    fn new(record: ChatRecord, balance: Option<Tokens>) -> Self {
        Self {
            user: record.user_id.0,
            timestamp: record
                .timestamp
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            message: record.message,
            response: record.response,
            tokens_charged: record.tokens_charged.get(),
            balance: balance.map(Tokens::get),
        }
    }
}

/// The caller's balance.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the `json!` body `balance` answers.
struct Balance {
    #[schema(example = 3900)]
    tokens: i64,
}

problems!(
    /// What `GET /token_balance/` can refuse with.
    BalanceProblems = [NOT_AUTHENTICATED, TOKEN_INVALID, STORAGE_UNAVAILABLE]
);

/// `GET /token_balance/` → `{"tokens": 3900}`.
#[utoipa::path(
    get,
    path = "/token_balance/",
    tag = "chat",
    summary = "The caller's token balance",
    security(("Token" = []), ("Bearer" = [])),
    responses((status = 200, description = "The balance.", body = Balance), BalanceProblems),
)]
pub async fn balance(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"tokens": user.tokens.get()}))
}
