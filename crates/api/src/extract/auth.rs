//! `Authorization: Token <jwt>` (the seed contract) or `Bearer <jwt>`.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use domain::User;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use ports::TokenKind;

use crate::{problem::ApiError, state::AppState};

/// The raw token of the `Authorization` header. Missing header, empty value or an unknown scheme
/// is "no credentials" (401 `not_authenticated`); a known scheme with a bad token is
/// `token_invalid`, decided when the token is verified.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl BearerToken {
    /// The token of `req`'s `Authorization` header.
    pub(crate) fn from_header(req: &HttpRequest) -> Result<Self, ApiError> {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !(scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")) {
            return Err(ApiError::NotAuthenticated);
        }
        Ok(Self(token.trim().to_owned()))
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::from_header(req))
    }
}

/// The active user the request's access token belongs to.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = BearerToken::from_header(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let BearerToken(token) = token?;
            let state = state.ok_or_else(|| {
                ApiError::App(application::AppError::Internal("state missing".into()))
            })?;
            let user = state
                .authenticate
                .user_for(&token, TokenKind::Access)
                .await?;
            crate::ops::access::identify(&req, user.id);
            Ok(Self(user))
        })
    }
}
