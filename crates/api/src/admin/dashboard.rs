//! `/admin/`: totals.

use actix_web::{HttpResponse, http::StatusCode, web};

use super::{AdminPageError, error::render, session::Admin, views::DashboardPage};
use crate::state::AppState;

/// `GET /admin/`.
pub async fn page(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, AdminPageError> {
    let totals = state.admin.dashboard.totals().await?;
    render(
        StatusCode::OK,
        &DashboardPage {
            nav: Some(admin.nav()),
            users: totals.users,
            chats_today: totals.chats_today,
            tokens_granted: totals.tokens_granted,
            tokens_spent: totals.tokens_spent,
        },
    )
}
