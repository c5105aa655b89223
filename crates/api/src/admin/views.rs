//! Template structs: what each page shows, already formatted as text. Templates live in
//! `crates/api/templates/admin/` and are compiled into the binary by askama, which escapes every
//! value for HTML unless told otherwise (nothing here is ever marked safe).

use application::admin::Paged;
use askama::Template;
use chrono::{DateTime, Utc};
use ports::{ChatLine, LedgerLine, UserSummary};

/// The logged-in admin, for the navigation bar and its logout form.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Who is logged in.
    pub username: String,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// A timestamp as admins read it.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The first `max` characters of `text`, with an ellipsis when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Links to the neighbouring pages of a list.
#[derive(Debug, Clone)]
pub struct Pager {
    /// This page.
    pub page: i64,
    /// Page count.
    pub pages: i64,
    /// Row count.
    pub total: i64,
    /// Previous page URL.
    pub prev: Option<String>,
    /// Next page URL.
    pub next: Option<String>,
}

impl Pager {
    /// Links for `paged`, keeping the other query parameters.
    pub fn new<T>(path: &str, params: &[(&str, String)], paged: &Paged<T>) -> Self {
        let link = |page: i64| {
            let mut query: Vec<(&str, String)> = params
                .iter()
                .filter(|(_, value)| !value.is_empty())
                .cloned()
                .collect();
            query.push(("page", page.to_string()));
            format!(
                "{path}?{}",
                serde_urlencoded::to_string(&query).unwrap_or_default()
            )
        };
        Self {
            page: paged.page,
            pages: paged.pages,
            total: paged.total,
            prev: (paged.page > 1).then(|| link(paged.page - 1)),
            next: (paged.page < paged.pages).then(|| link(paged.page + 1)),
        }
    }
}

/// `/admin/login/`.
#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct LoginPage {
    /// Never set: the login page has no navigation.
    pub nav: Option<Nav>,
    /// The double-submit CSRF token, also in the login CSRF cookie.
    pub csrf_token: String,
    /// What was typed, to refill the form after a failure.
    pub username: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// `/admin/`.
#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    /// Navigation.
    pub nav: Option<Nav>,
    /// Accounts.
    pub users: i64,
    /// Chats since midnight UTC.
    pub chats_today: i64,
    /// Sign-up grants plus admin credits.
    pub tokens_granted: i64,
    /// Chat debits minus refunds.
    pub tokens_spent: i64,
}

/// One row of the users list.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// Balance.
    pub tokens: i64,
    /// Active flag.
    pub active: bool,
    /// Superuser flag.
    pub staff: bool,
    /// Join time.
    pub joined: String,
    /// Chat count.
    pub chats: i64,
}

impl From<UserSummary> for UserRow {
    fn from(summary: UserSummary) -> Self {
        let user = summary.user;
        Self {
            id: user.id.0,
            username: user.username.as_str().to_owned(),
            tokens: user.tokens.get(),
            active: user.is_active,
            staff: user.is_superuser,
            joined: when(user.date_joined),
            chats: summary.chats,
        }
    }
}

/// `/admin/users/`.
#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    /// Navigation.
    pub nav: Option<Nav>,
    /// The search box's content.
    pub q: String,
    /// This page's users.
    pub rows: Vec<UserRow>,
    /// Page links.
    pub pager: Pager,
}

/// One ledger line on the user page.
#[derive(Debug, Clone)]
pub struct LedgerView {
    /// When.
    pub when: String,
    /// Kind name.
    pub kind: String,
    /// Signed amount, `+500` / `-100`.
    pub amount: String,
    /// Whether it added tokens (for colouring).
    pub credit: bool,
    /// Reason text.
    pub reason: String,
    /// The acting admin, for admin adjustments.
    pub actor: String,
    /// For a chat's debit: the model and the token counts it was charged for.
    pub usage: String,
}

impl From<LedgerLine> for LedgerView {
    fn from(line: LedgerLine) -> Self {
        let amount = line.amount.get();
        Self {
            when: when(line.created_at),
            kind: line.kind.as_str().to_owned(),
            amount: if amount > 0 {
                format!("+{amount}")
            } else {
                amount.to_string()
            },
            credit: amount > 0,
            reason: line.reason,
            actor: match line.actor {
                Some((id, Some(name))) => format!("{name} (#{})", id.0),
                Some((id, None)) => format!("#{} (deleted)", id.0),
                None => String::new(),
            },
            usage: line
                .usage
                .map(|(model, tokens)| {
                    format!(
                        "{model}: {} prompt + {} completion tokens",
                        tokens.prompt, tokens.completion
                    )
                })
                .unwrap_or_default(),
        }
    }
}

/// One chat row on the user page and the chats list.
#[derive(Debug, Clone)]
pub struct ChatRowView {
    /// Id.
    pub id: i64,
    /// When.
    pub when: String,
    /// Author id.
    pub user_id: i64,
    /// Author name.
    pub username: String,
    /// Message excerpt.
    pub message: String,
    /// Response excerpt.
    pub response: String,
    /// `completed` or `interrupted`.
    pub status: &'static str,
    /// Tokens the exchange cost.
    pub tokens_charged: i64,
}

impl From<ChatLine> for ChatRowView {
    fn from(line: ChatLine) -> Self {
        Self {
            id: line.chat.id,
            when: when(line.chat.timestamp),
            user_id: line.chat.user_id.0,
            username: line.username,
            message: excerpt(&line.chat.message, 120),
            response: excerpt(&line.chat.response, 80),
            status: line.chat.status.as_str(),
            tokens_charged: line.chat.tokens_charged.get(),
        }
    }
}

/// Field errors and what was typed, to re-render the user page's forms after a refusal.
#[derive(Debug, Clone, Default)]
pub struct UserForms {
    /// `field: message` lines.
    pub errors: Vec<String>,
    /// Adjustment amount as typed.
    pub amount: String,
    /// Adjustment reason as typed.
    pub reason: String,
}

/// `/admin/users/<id>/`.
#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    /// Navigation.
    pub nav: Option<Nav>,
    /// The session's CSRF token for the action forms.
    pub csrf_token: String,
    /// The account.
    pub user: UserRow,
    /// Outcome of the last action, from a fixed list.
    pub notice: Option<&'static str>,
    /// Form errors and refill values.
    pub forms: UserForms,
    /// Ledger, newest first.
    pub ledger: Vec<LedgerView>,
    /// Whether the ledger was cut to its newest lines.
    pub ledger_cut: bool,
    /// Latest chats.
    pub chats: Vec<ChatRowView>,
    /// The user's chat count.
    pub chat_total: i64,
    /// The user's API keys, newest first.
    pub api_keys: Vec<ApiKeyView>,
}

/// One API key on the user page (never its secret: it is not stored).
#[derive(Debug, Clone)]
pub struct ApiKeyView {
    /// Id, for the revoke form.
    pub id: i64,
    /// The owner's label.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// When it was created.
    pub created: String,
    /// When it was last used (to the minute), or "never".
    pub last_used: String,
    /// When it expires, or "never".
    pub expires: String,
    /// Whether it has expired (at the time the page was rendered).
    pub expired: bool,
}

impl ApiKeyView {
    /// The key as shown at `now`.
    pub fn at(key: ports::ApiKey, now: DateTime<Utc>) -> Self {
        let or_never = |at: Option<DateTime<Utc>>| at.map_or_else(|| "never".to_owned(), when);
        Self {
            id: key.id.0,
            expired: !domain::api_key::is_live(key.expires_at, now),
            name: key.name,
            prefix: key.prefix,
            created: when(key.created_at),
            last_used: or_never(key.last_used_at),
            expires: or_never(key.expires_at),
        }
    }
}

/// `/admin/chats/`.
#[derive(Template)]
#[template(path = "admin/chats.html")]
pub struct ChatsPage {
    /// Navigation.
    pub nav: Option<Nav>,
    /// Filter: user id as typed.
    pub user: String,
    /// Filter: first day.
    pub from: String,
    /// Filter: last day.
    pub to: String,
    /// Rows.
    pub rows: Vec<ChatRowView>,
    /// Page links.
    pub pager: Pager,
}

/// `/admin/chats/<id>/`.
#[derive(Template)]
#[template(path = "admin/chat.html")]
pub struct ChatPage {
    /// Navigation.
    pub nav: Option<Nav>,
    /// Id.
    pub id: i64,
    /// When.
    pub when: String,
    /// Author id.
    pub user_id: i64,
    /// Author name.
    pub username: String,
    /// Full message.
    pub message: String,
    /// Full response (up to the interruption, for an interrupted exchange).
    pub response: String,
    /// `completed` or `interrupted`.
    pub status: &'static str,
    /// Tokens the exchange cost.
    pub tokens_charged: i64,
}

/// Any admin error.
#[derive(Template)]
#[template(path = "admin/error.html")]
pub struct ErrorPage {
    /// Never set: error pages do not load the session.
    pub nav: Option<Nav>,
    /// Reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened.
    pub message: String,
}
