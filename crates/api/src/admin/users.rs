//! `/admin/users/`, `/admin/users/<id>/` and the actions on an account.

use actix_web::{HttpResponse, http::StatusCode, web};
use application::admin::{AdminError, Direction, users::LEDGER_LINES};
use domain::UserId;
use serde::Deserialize;

use super::{
    AdminPageError,
    error::render,
    login::CsrfForm,
    page_number, see_other,
    session::Admin,
    views::{ApiKeyView, Pager, UserForms, UserPage, UserRow, UsersPage},
};
use crate::state::AppState;

/// The users list's query string.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
}

/// The user page's query string: which action just succeeded.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    notice: Option<String>,
}

/// The credit/debit form.
#[derive(Debug, Deserialize)]
pub struct AdjustForm {
    csrf_token: Option<String>,
    direction: Option<String>,
    amount: Option<String>,
    reason: Option<String>,
}

/// The activate/deactivate form.
#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    csrf_token: Option<String>,
    active: Option<String>,
}

/// The reset-password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    password: Option<String>,
}

/// A user id from the path; anything but an integer is a missing page.
fn user_id(raw: &str) -> Result<UserId, AdminPageError> {
    raw.parse()
        .map(UserId)
        .map_err(|_| AdminPageError::NotFound)
}

/// `GET /admin/users/?q=&page=`.
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminPageError> {
    let page = page_number(query.page.as_deref())?;
    let q = query.q.clone().unwrap_or_default();
    let paged = state.admin.users.list(Some(&q), page).await?;
    let pager = Pager::new("/admin/users/", &[("q", q.clone())], &paged);
    render(
        StatusCode::OK,
        &UsersPage {
            nav: Some(admin.nav()),
            q,
            rows: paged.items.into_iter().map(UserRow::from).collect(),
            pager,
        },
    )
}

/// Success messages, chosen by code so nothing from the query string is echoed.
fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "credited" => Some("Tokens credited."),
        "debited" => Some("Tokens debited."),
        "activated" => Some("Account activated."),
        "deactivated" => Some("Account deactivated; its sessions were ended."),
        "password" => Some("Password reset; the user's sessions were ended."),
        "key_revoked" => Some("API key revoked; it stopped working at once."),
        "unlocked" => {
            Some("Login lock lifted; failed logins against this username were forgotten.")
        }
        _ => None,
    }
}

/// Renders the user page, with form errors (status 400) or a notice.
async fn user_page(
    state: &AppState,
    admin: &Admin,
    id: UserId,
    status: StatusCode,
    notice: Option<&'static str>,
    forms: UserForms,
) -> Result<HttpResponse, AdminPageError> {
    let detail = state.admin.users.detail(id).await?;
    let chat_total = detail.chats.total;
    let ledger_cut = i64::try_from(detail.ledger.len()).unwrap_or(i64::MAX) >= LEDGER_LINES;
    render(
        status,
        &UserPage {
            nav: Some(admin.nav()),
            csrf_token: admin.0.csrf_token.clone(),
            user: UserRow::from(ports::UserSummary {
                user: detail.user,
                chats: chat_total,
            }),
            notice,
            forms,
            ledger: detail.ledger.into_iter().map(Into::into).collect(),
            ledger_cut,
            chats: detail.chats.items.into_iter().map(Into::into).collect(),
            chat_total,
            api_keys: detail
                .api_keys
                .into_iter()
                .map(|key| ApiKeyView::at(key, detail.read_at))
                .collect(),
        },
    )
}

/// `GET /admin/users/<id>/`.
pub async fn detail(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, AdminPageError> {
    let id = user_id(&path)?;
    let notice = notice_text(query.notice.as_deref());
    user_page(
        &state,
        &admin,
        id,
        StatusCode::OK,
        notice,
        UserForms::default(),
    )
    .await
}

/// After an action: redirect (303) to the user page with a notice, or re-render it with the
/// form's errors (400) when the use case refused.
async fn outcome(
    state: &AppState,
    admin: &Admin,
    id: UserId,
    result: Result<&'static str, AdminError>,
    mut forms: UserForms,
) -> Result<HttpResponse, AdminPageError> {
    match result {
        Ok(notice) => Ok(see_other(&format!(
            "/admin/users/{}/?notice={notice}",
            id.0
        ))),
        Err(AdminError::Validation(errors)) => {
            forms.errors = errors
                .fields()
                .iter()
                .flat_map(|(field, messages)| messages.iter().map(move |m| format!("{field}: {m}")))
                .collect();
            user_page(state, admin, id, StatusCode::BAD_REQUEST, None, forms).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /admin/users/<id>/tokens/`: credit or debit with a reason.
pub async fn adjust(
    state: web::Data<AppState>,
    form: web::Form<AdjustForm>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    let id = user_id(&path)?;
    let (direction, notice) = match form.direction.as_deref() {
        Some("debit") => (Direction::Debit, "debited"),
        Some("credit") | None => (Direction::Credit, "credited"),
        Some(_) => return Err(AdminPageError::BadRequest("unknown direction".into())),
    };
    let amount = form.amount.clone().unwrap_or_default();
    let reason = form.reason.clone().unwrap_or_default();
    let result = state
        .admin
        .users
        .adjust(&admin.0.user, id, direction, &amount, &reason)
        .await
        .map(|_| notice);
    let forms = UserForms {
        errors: Vec::new(),
        amount,
        reason,
    };
    outcome(&state, &admin, id, result, forms).await
}

/// `POST /admin/users/<id>/active/`: `active=true` activates, `active=false` deactivates.
pub async fn set_active(
    state: web::Data<AppState>,
    form: web::Form<ActiveForm>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    let id = user_id(&path)?;
    let active = match form.active.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(AdminPageError::BadRequest(
                "active must be true or false".into(),
            ));
        }
    };
    let result = state
        .admin
        .users
        .set_active(&admin.0.user, id, active)
        .await
        .map(|()| if active { "activated" } else { "deactivated" });
    outcome(&state, &admin, id, result, UserForms::default()).await
}

/// `POST /admin/users/<id>/password/`: new password; revokes the user's refresh tokens.
pub async fn reset_password(
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    let id = user_id(&path)?;
    let password = form.password.clone().unwrap_or_default();
    let result = state
        .admin
        .users
        .reset_password(&admin.0.user, id, &password)
        .await
        .map(|()| "password");
    outcome(&state, &admin, id, result, UserForms::default()).await
}

/// `POST /admin/users/<id>/api-keys/<key>/revoke/`: revokes one of the user's API keys.
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    let (id, key) = path.into_inner();
    let id = user_id(&id)?;
    let key = key
        .parse()
        .map(ports::ApiKeyId)
        .map_err(|_| AdminPageError::NotFound)?;
    let result = state
        .admin
        .users
        .revoke_api_key(&admin.0.user, id, key)
        .await
        .map(|()| "key_revoked");
    outcome(&state, &admin, id, result, UserForms::default()).await
}

/// `POST /admin/users/<id>/login-lock/`: forgets the failed logins counted against the user.
pub async fn lift_login_lock(
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminPageError> {
    admin.check_csrf(form.csrf_token.as_deref())?;
    let id = user_id(&path)?;
    let result = state
        .admin
        .users
        .lift_login_lock(&admin.0.user, id)
        .await
        .map(|_| "unlocked");
    outcome(&state, &admin, id, result, UserForms::default()).await
}
