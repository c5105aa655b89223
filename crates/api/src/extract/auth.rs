//! `Authorization: Token <credential>` (the seed contract) or `Bearer <credential>`, where the
//! credential is an access token (JWT) or an API key (`cak_…`).

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use application::Caller;
use domain::User;
use futures_util::future::{LocalBoxFuture, Ready, ready};

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

/// Who is calling and with which credential: an access token or an API key, both accepted
/// wherever this extractor is (the use case decides what a key may not do).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
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
            let caller = state.authenticate.caller(&token).await?;
            crate::ops::access::identify(&req, caller.user.id);
            Ok(Self(caller))
        })
    }
}

/// The active user the request's access token or API key belongs to.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Authenticated::from_request(req, payload);
        Box::pin(async move { Ok(Self(caller.await?.0.user)) })
    }
}
