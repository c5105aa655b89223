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

use crate::{
    extract::{CurrentUser, FormOrJson},
    ops::Shutdown,
    problem::ApiError,
    state::AppState,
};

/// `POST /chatView/` → `{"user", "message", "response", "timestamp", "tokens_charged"}`; with
/// `"stream": true`, Server-Sent Events (see [`stream`]). The use case runs in a task of its own
/// (see [`answer_whole`]).
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
#[derive(Serialize)]
struct ChatResponse {
    user: i64,
    message: String,
    response: String,
    timestamp: String,
    tokens_charged: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// `GET /token_balance/` → `{"tokens": 3900}`.
pub async fn balance(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"tokens": user.tokens.get()}))
}
