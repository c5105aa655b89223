//! The admin panel over real HTTP, on both backends: every page and action, sessions,
//! CSRF, superuser-only login, pagination bounds, escaping, and HTML errors.

use std::collections::BTreeMap;

use domain::UserId;
use ports::AdminRepository;
use reqwest::{Response, StatusCode, header};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Creates a superuser the way `chat-api createsuperuser` does (the service's own `Register`
/// use case, built by the same builder); returns its id.
pub async fn create_superuser(app: &TestApp, username: &str) -> i64 {
    app.services()
        .await
        .register
        .create_superuser(username, ADMIN_PASSWORD)
        .await
        .unwrap()
        .id
        .0
}

/// A cookie-keeping HTTP client that does not follow redirects, so tests see every 303.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// Raw `Set-Cookie` headers of the last response.
    pub last_set_cookies: Vec<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            last_set_cookies: Vec::new(),
        }
    }

    fn absorb(&mut self, response: &Response) {
        self.last_set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for raw in &self.last_set_cookies {
            let pair = raw.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removal = value.is_empty() || raw.contains("Max-Age=0");
            if removal {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get("chat_admin_session").cloned()
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response = self
            .client
            .get(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(&response);
        response
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        self.post_with(path, form, &[]).await
    }

    /// POSTs a form with extra request headers (`Origin`, `Sec-Fetch-Site`, ...).
    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .client
            .post(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.absorb(&response);
        response
    }

    /// GET `path`, assert 200 HTML, return the body.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_html(&response);
        response.text().await.unwrap()
    }

    /// Logs in through the form (GET for the CSRF token, then POST).
    pub async fn login(&mut self, username: &str, password: &str) -> Response {
        let form = self.page("/admin/login/").await;
        let csrf = csrf_in(&form);
        self.post(
            "/admin/login/",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// Logs in as a fresh superuser named `name`; returns its id.
    pub async fn logged_in_admin(&mut self, name: &str) -> i64 {
        let id = create_superuser(self.app, name).await;
        let response = self.login(name, ADMIN_PASSWORD).await;
        assert_redirect(&response, "/admin/");
        id
    }

    /// The session's CSRF token, read from a page's forms.
    pub async fn csrf(&mut self) -> String {
        csrf_in(&self.page("/admin/").await)
    }
}

/// The value of the first `csrf_token` hidden field in `html`.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a csrf_token field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn assert_html(response: &Response) {
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

pub fn assert_redirect(response: &Response, location: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], location);
}

async fn balance_of(app: &TestApp, id: i64) -> i64 {
    use ports::UserRepository;
    app.storage()
        .await
        .find_by_id(UserId(id))
        .await
        .unwrap()
        .unwrap()
        .tokens
        .get()
}

/// The number of rows in the `<tbody>` of the table with `id`.
fn rows_in(html: &str, table_id: &str) -> usize {
    let start = html.find(&format!("id=\"{table_id}\"")).unwrap();
    let body = &html[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.matches("<tr>").count() - body.matches("colspan").count()
}

#[apply(on_every_backend)]
async fn anonymous_visitors_are_redirected_to_login_and_see_no_admin_data(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("victim").await;
    let mut browser = Browser::new(&app);
    for path in [
        "/admin/",
        "/admin",
        "/admin/users/",
        "/admin/users/1/",
        "/admin/chats/",
        "/admin/chats/1/",
        "/admin/users/?q=victim",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("victim"), "{path} leaked data");
    }
    assert_redirect(&browser.get("/admin/users/").await, "/admin/login/");
    for path in [
        "/admin/users/1/tokens/",
        "/admin/users/1/active/",
        "/admin/users/1/password/",
        "/admin/logout/",
    ] {
        let response = browser
            .post(
                path,
                &[
                    ("amount", "500"),
                    ("reason", "x"),
                    ("active", "false"),
                    ("password", "new-password-9"),
                ],
            )
            .await;
        assert_redirect(&response, "/admin/login/");
    }
    assert_eq!(balance_of(&app, 1).await, 4000, "nothing changed");
    // A forged or stale cookie is no better than none.
    browser.set_cookie("chat_admin_session", "forged-session-id");
    assert_redirect(&browser.get("/admin/").await, "/admin/login/");
}

#[apply(on_every_backend)]
async fn a_superuser_logs_in_sees_the_dashboard_and_logs_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("dash_user").await;
    assert_eq!(
        app.chat(&user.access, "hello").await.status(),
        StatusCode::OK
    );
    let mut browser = Browser::new(&app);
    let login_form = browser.get("/admin/login/").await;
    assert_eq!(login_form.status(), StatusCode::OK);
    assert_eq!(login_form.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        login_form
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    let admin_id = create_superuser(&app, "root").await;
    let response = browser.login("root", ADMIN_PASSWORD).await;
    assert_redirect(&response, "/admin/");
    let session = browser
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("chat_admin_session="))
        .unwrap()
        .clone();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin/", "Max-Age="] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(
        !session.contains("Secure"),
        "plain HTTP: no Secure flag ({session})"
    );
    let session_id = browser.session_cookie().unwrap();
    assert!(session_id.len() >= 43, "32 random bytes");
    assert_redirect(&browser.get("/admin/login/").await, "/admin/");

    let dashboard = browser.page("/admin/").await;
    assert!(dashboard.contains("id=\"total-users\">2<"), "{dashboard}");
    assert!(dashboard.contains("id=\"chats-today\">1<"));
    assert!(
        dashboard.contains("id=\"tokens-granted\">8000<"),
        "two sign-up grants"
    );
    assert!(dashboard.contains("id=\"tokens-spent\">100<"));
    assert!(dashboard.contains("root"));
    assert!(admin_id > 0);

    let csrf = csrf_in(&dashboard);
    assert_eq!(
        browser.post("/admin/logout/", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser
            .post("/admin/logout/", &[("csrf_token", "wrong")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.get("/admin/").await.status(),
        StatusCode::OK,
        "a refused logout keeps the session"
    );
    let response = browser
        .post("/admin/logout/", &[("csrf_token", &csrf)])
        .await;
    assert_redirect(&response, "/admin/login/");
    assert!(browser.session_cookie().is_none(), "the cookie is cleared");
    browser.set_cookie("chat_admin_session", &session_id);
    assert_redirect(&browser.get("/admin/").await, "/admin/login/");
}

#[apply(on_every_backend)]
async fn the_session_cookie_is_secure_when_the_request_came_over_https(backend: Backend) {
    let app = spawn_app(backend).await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    let csrf = csrf_in(&browser.page("/admin/login/").await);
    let response = browser
        .client
        .post(app.url("/admin/login/"))
        .header(header::COOKIE, browser.cookie_header())
        .header("X-Forwarded-Proto", "https")
        .form(&[
            ("username", "root"),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_redirect(&response, "/admin/");
    let session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("chat_admin_session="))
        .unwrap();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

#[apply(on_every_backend)]
async fn a_normal_users_correct_credentials_cannot_log_in_to_the_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("normal_joe").await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    let mut messages = Vec::new();
    for (name, password) in [
        ("normal_joe", "password123"),
        ("root", "wrong-password"),
        ("ghost", "password123"),
    ] {
        let response = browser.login(name, password).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert!(browser.session_cookie().is_none(), "{name} got a session");
        let body = response.text().await.unwrap();
        let start = body.find("id=\"login-error\">").expect("an error message");
        messages.push(body[start..start + 100].to_owned());
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "one message for every refusal: {messages:?}"
    );
    assert_redirect(&browser.get("/admin/").await, "/admin/login/");
}

#[apply(on_every_backend)]
async fn admin_login_shares_the_api_failed_login_throttle(backend: Backend) {
    let app = spawn_app(backend).await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(
            browser.login("root", "wrong-password").await.status(),
            StatusCode::OK
        );
    }
    for _ in 0..2 {
        let response = app.login("root", "wrong-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "the API counts into the same buckets"
        );
    }
    let response = browser.login("root", ADMIN_PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password is not checked now"
    );
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_html(&response);
    assert!(browser.session_cookie().is_none());
}

#[apply(on_every_backend)]
async fn login_without_its_csrf_token_is_forbidden(backend: Backend) {
    let app = spawn_app(backend).await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    let csrf = csrf_in(&browser.page("/admin/login/").await);
    let response = browser
        .post(
            "/admin/login/",
            &[("username", "root"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_html(&response);
    let response = browser
        .post(
            "/admin/login/",
            &[
                ("username", "root"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(browser.session_cookie().is_none());
    let mut fresh = Browser::new(&app);
    let response = fresh
        .post(
            "/admin/login/",
            &[
                ("username", "root"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "the token alone, without its cookie, is refused"
    );
    assert!(fresh.session_cookie().is_none());
}

#[apply(on_every_backend)]
async fn the_users_list_searches_and_paginates_with_bounds(backend: Backend) {
    // 28 sign-ups from one address: lift the per-IP sign-up limit for this test.
    let app = spawn_app_with(
        backend,
        |s| s.throttle.signup_per_ip = 0,
        Overrides::default(),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    for i in 0..26 {
        assert_eq!(
            app.register(&format!("pager{i:02}"), "password123")
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    app.register("alpha_1", "password123").await;
    app.register("alphax1", "password123").await;
    let first = browser.page("/admin/users/").await;
    assert_eq!(rows_in(&first, "users"), 25);
    assert!(first.contains("Page 1 of 2 · 29 total"), "{first}");
    for header in [
        "ID", "Username", "Tokens", "Active", "Staff", "Joined", "Chats",
    ] {
        assert!(first.contains(&format!(">{header}</th>")), "{header}");
    }
    let second = browser.page("/admin/users/?page=2").await;
    assert_eq!(rows_in(&second, "users"), 4);
    for bad in ["3", "0", "-1", "abc", "99999999999999999999"] {
        let response = browser.get(&format!("/admin/users/?page={bad}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "page={bad}");
        assert_html(&response);
    }
    let found = browser.page("/admin/users/?q=PAGER0").await;
    assert_eq!(
        rows_in(&found, "users"),
        10,
        "case-insensitive substring search"
    );
    let literal = browser.page("/admin/users/?q=a_1").await;
    assert_eq!(rows_in(&literal, "users"), 1, "`_` matches literally");
    assert!(literal.contains(">alpha_1</a>"));
    let paged = browser.page("/admin/users/?q=pager&page=2").await;
    assert_eq!(rows_in(&paged, "users"), 1);
    assert!(
        paged.contains("href=\"/admin/users/?q=pager&#38;page=1\"")
            || paged.contains("href=\"/admin/users/?q=pager&amp;page=1\""),
        "the search is kept in page links: {paged}"
    );
    let none = browser.page("/admin/users/?q=nobody").await;
    assert!(none.contains("No users match.") && none.contains("Page 1 of 1"));
    assert_eq!(
        browser.get("/admin/users/?q=nobody&page=2").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[apply(on_every_backend)]
async fn credit_and_debit_record_admin_adjustments_and_never_go_below_zero(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("wallet").await;
    let mut browser = Browser::new(&app);
    let admin_id = browser.logged_in_admin("root").await;
    let csrf = browser.csrf().await;
    let response = browser
        .post(
            "/admin/users/1/tokens/",
            &[
                ("csrf_token", &csrf),
                ("direction", "credit"),
                ("amount", "500"),
                ("reason", "goodwill <script>alert(1)</script>"),
            ],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=credited");
    let page = browser.page("/admin/users/1/?notice=credited").await;
    assert!(page.contains("id=\"balance\">4500<"), "{page}");
    assert!(page.contains("Tokens credited."));
    assert!(page.contains("+500"));
    assert!(
        page.contains("goodwill &#60;script&#62;alert(1)&#60;/script&#62;")
            || page.contains("goodwill &lt;script&gt;alert(1)&lt;/script&gt;"),
        "reason escaped: {page}"
    );
    assert!(!page.contains("<script>alert(1)"), "no raw script");
    assert!(
        page.contains(&format!("root (#{admin_id})")),
        "the acting admin is shown"
    );

    let response = browser
        .post(
            "/admin/users/1/tokens/",
            &[
                ("csrf_token", &csrf),
                ("direction", "debit"),
                ("amount", "5000"),
                ("reason", "too much"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Insufficient tokens: 5000 needed, 4500 left"),
        "{body}"
    );
    assert!(body.contains("value=\"too much\""), "the form is refilled");
    assert_eq!(balance_of(&app, 1).await, 4500);

    let response = browser
        .post(
            "/admin/users/1/tokens/",
            &[
                ("csrf_token", &csrf),
                ("direction", "debit"),
                ("amount", "4500"),
                ("reason", "reset to zero"),
            ],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=debited");
    assert_eq!(balance_of(&app, 1).await, 0);
    for (amount, reason) in [("0", "r"), ("-5", "r"), ("abc", "r"), ("10", "")] {
        let response = browser
            .post(
                "/admin/users/1/tokens/",
                &[
                    ("csrf_token", &csrf),
                    ("direction", "credit"),
                    ("amount", amount),
                    ("reason", reason),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{amount:?}/{reason:?}"
        );
    }
    assert_eq!(balance_of(&app, 1).await, 0);
    let response = browser
        .post(
            "/admin/users/999/tokens/",
            &[("csrf_token", &csrf), ("amount", "1"), ("reason", "r")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let ledger = app
        .storage()
        .await
        .user_ledger(UserId(1), 10)
        .await
        .unwrap();
    let adjustments: Vec<(i64, Option<i64>)> = ledger
        .iter()
        .filter(|l| l.kind == domain::LedgerEntryKind::AdminAdjustment)
        .map(|l| (l.amount.get(), l.actor.as_ref().map(|a| a.0.0)))
        .collect();
    assert_eq!(
        adjustments,
        vec![(-4500, Some(admin_id)), (500, Some(admin_id))]
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_missing_or_wrong_csrf_token_is_forbidden_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("target").await;
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let actions: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "/admin/users/1/tokens/",
            vec![
                ("direction", "debit"),
                ("amount", "4000"),
                ("reason", "attack"),
            ],
        ),
        ("/admin/users/1/active/", vec![("active", "false")]),
        (
            "/admin/users/1/password/",
            vec![("password", "hijacked-pass-1")],
        ),
    ];
    for (path, fields) in &actions {
        for token in [None, Some(""), Some("wrong-token")] {
            let mut form = fields.clone();
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let response = browser.post(path, &form).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} with {token:?}"
            );
            assert_html(&response);
        }
    }
    assert_eq!(balance_of(&app, 1).await, 4000);
    assert_eq!(app.balance(&user.access).await, 4000, "still active");
    assert_eq!(
        app.login("target", "password123").await.status(),
        StatusCode::OK,
        "password unchanged"
    );
    let response = app
        .post("/token/refresh/", json!({"refresh": user.refresh}), None)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "refresh tokens not revoked"
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn deactivation_ends_a_users_sessions_and_reactivation_does_not_revive_them(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("sleeper").await;
    let mut browser = Browser::new(&app);
    let admin_id = browser.logged_in_admin("root").await;
    let csrf = browser.csrf().await;
    let response = browser
        .post(
            "/admin/users/1/active/",
            &[("csrf_token", &csrf), ("active", "false")],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=deactivated");
    let page = browser.page("/admin/users/1/").await;
    assert!(page.contains("id=\"activate\""));
    let response = app
        .client
        .get(app.url("/token_balance/"))
        .header("Authorization", format!("Token {}", user.access))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "token_invalid").await;
    assert_eq!(
        app.login("sleeper", "password123").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = browser
        .post(
            "/admin/users/1/active/",
            &[("csrf_token", &csrf), ("active", "true")],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=activated");
    let old_access = app
        .client
        .get(app.url("/token_balance/"))
        .header("Authorization", format!("Token {}", user.access))
        .send()
        .await
        .unwrap();
    assert_problem(old_access, StatusCode::UNAUTHORIZED, "token_invalid").await;
    let old_refresh = app
        .post("/token/refresh/", json!({"refresh": user.refresh}), None)
        .await;
    assert_problem(old_refresh, StatusCode::UNAUTHORIZED, "token_invalid").await;
    let fresh = app.login("sleeper", "password123").await;
    assert_eq!(fresh.status(), StatusCode::OK, "the owner logs in again");
    let fresh: serde_json::Value = fresh.json().await.unwrap();
    assert_eq!(
        app.balance(fresh["access_token"].as_str().unwrap()).await,
        4000
    );
    let response = browser
        .post(
            &format!("/admin/users/{admin_id}/active/"),
            &[("csrf_token", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "no self-lockout"
    );
    assert_eq!(browser.get("/admin/").await.status(), StatusCode::OK);
}

#[apply(on_every_backend)]
async fn a_password_reset_sets_the_password_and_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("forgetful").await;
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let csrf = browser.csrf().await;
    let response = browser
        .post(
            "/admin/users/1/password/",
            &[("csrf_token", &csrf), ("password", "12345678")],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "password rules apply"
    );
    let response = browser
        .post(
            "/admin/users/1/password/",
            &[("csrf_token", &csrf), ("password", "brand-new-pass")],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=password");
    let response = app
        .post("/token/refresh/", json!({"refresh": user.refresh}), None)
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "token_invalid").await;
    assert_problem(
        app.chat(&user.access, "still here?").await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_eq!(
        app.login("forgetful", "password123").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Tokens issued right after the reset work at once: no whole-second cutoff to wait out.
    let response = app.login("forgetful", "brand-new-pass").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let response = app
        .post("/token/refresh/", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK, "new refresh tokens work");
}

#[apply(on_every_backend)]
async fn the_user_page_shows_balance_ledger_and_chats(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("chatty").await;
    app.chat(&user.access, "first question").await;
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let page = browser.page("/admin/users/1/").await;
    assert!(page.contains("id=\"balance\">3900<"));
    assert_eq!(rows_in(&page, "ledger"), 2);
    assert!(page.contains("chat_debit") && page.contains("signup_grant"));
    assert!(
        page.find("chat_debit").unwrap() < page.find("signup_grant").unwrap(),
        "newest first"
    );
    assert_eq!(rows_in(&page, "chats"), 1);
    assert!(page.contains("first question"));
    for missing in [
        "/admin/users/999/",
        "/admin/users/abc/",
        "/admin/users/1.5/",
    ] {
        let response = browser.get(missing).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        assert_html(&response);
    }
}

#[apply(on_every_backend)]
async fn chats_are_listed_newest_first_filtered_and_rendered_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let one = app.signed_up("writer").await;
    let two = app.signed_up("other").await;
    let payload = "<script>alert('xss')</script> & <b>bold</b>";
    assert_eq!(
        app.chat(&one.access, payload).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.chat(&two.access, "plain question").await.status(),
        StatusCode::OK
    );
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let list = browser.page("/admin/chats/").await;
    assert_eq!(rows_in(&list, "chat-list"), 2);
    assert!(
        list.find("plain question").unwrap() < list.find("alert(").unwrap(),
        "newest first"
    );
    for page in [
        list.clone(),
        browser.page("/admin/chats/1/").await,
        browser.page("/admin/users/1/").await,
    ] {
        assert!(!page.contains("<script>alert"), "unescaped script: {page}");
        assert!(!page.contains("<b>bold</b>"));
        assert!(
            page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
            "{page}"
        );
    }
    let detail = browser.page("/admin/chats/1/").await;
    assert!(detail.contains("id=\"message\""));
    assert!(detail.contains(">writer</a>"));

    let only_two = browser.page("/admin/chats/?user=2").await;
    assert_eq!(rows_in(&only_two, "chat-list"), 1);
    assert!(only_two.contains("plain question"));
    let today = chrono::Utc::now().date_naive();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let ranged = browser
        .page(&format!("/admin/chats/?from={today}&to={today}"))
        .await;
    assert_eq!(rows_in(&ranged, "chat-list"), 2, "to is inclusive");
    let future = browser
        .page(&format!("/admin/chats/?from={tomorrow}"))
        .await;
    assert_eq!(rows_in(&future, "chat-list"), 0);
    let past = browser.page(&format!("/admin/chats/?to={yesterday}")).await;
    assert_eq!(rows_in(&past, "chat-list"), 0);
    let empty_filters = browser.page("/admin/chats/?user=&from=&to=").await;
    assert_eq!(
        rows_in(&empty_filters, "chat-list"),
        2,
        "empty fields are no filter"
    );
    for bad in [
        "/admin/chats/?from=yesterday",
        "/admin/chats/?to=2025-13-01",
        "/admin/chats/?user=abc",
    ] {
        let response = browser.get(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_html(&response);
    }
    for bad in [
        "/admin/chats/?page=2",
        "/admin/chats/?page=0",
        "/admin/chats/999/",
        "/admin/chats/x/",
    ] {
        let response = browser.get(bad).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
        assert_html(&response);
    }
}

#[apply(on_every_backend)]
async fn unknown_admin_paths_wrong_methods_and_bad_forms_get_html_errors_not_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let csrf = browser.csrf().await;
    for path in [
        "/admin/nope",
        "/admin/users/1/nope/",
        "/admin/users",
        "/admin/%FF/",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_html(&response);
    }
    let cookie = format!("chat_admin_session={}", browser.session_cookie().unwrap());
    for (method, path) in [
        (reqwest::Method::DELETE, "/admin/users/"),
        (reqwest::Method::POST, "/admin/users/"),
        (reqwest::Method::PUT, "/admin/users/1/tokens/"),
        (reqwest::Method::GET, "/admin/logout/"),
        (reqwest::Method::GET, "/admin/users/1/tokens/"),
        (reqwest::Method::PATCH, "/admin/login/"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_html(&response);
    }
    let response = app
        .client
        .post(app.url("/admin/users/1/tokens/"))
        .header(header::COOKIE, &cookie)
        .json(&json!({"csrf_token": csrf, "amount": "1", "reason": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a JSON body is not a form"
    );
    assert_html(&response);
    let response = app
        .client
        .post(app.url("/admin/users/1/tokens/"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={csrf}&amount=1&reason={}",
            "x".repeat(20_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "oversized form");
    let response = browser
        .post(
            "/admin/users/1/active/",
            &[("csrf_token", &csrf), ("active", "maybe")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // NUL characters, which PostgreSQL text cannot hold, are form errors, never 5xx.
    let response = browser
        .post(
            "/admin/users/1/tokens/",
            &[
                ("csrf_token", &csrf),
                ("direction", "credit"),
                ("amount", "1"),
                ("reason", "nul\0byte"),
            ],
        )
        .await;
    assert!(
        response.status().is_client_error() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    assert_eq!(
        browser.get("/admin/users/?q=%00").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        browser
            .get("/admin/chats/?user=%00")
            .await
            .status()
            .as_u16()
            / 100,
        4
    );
    assert_eq!(
        balance_of(&app, 1).await,
        4000,
        "no refused request changed anything"
    );
}

#[apply(on_every_backend)]
async fn a_login_racing_an_admin_reset_never_yields_a_token_that_works_after_it(backend: Backend) {
    let app = std::sync::Arc::new(
        spawn_app_with(
            backend,
            |s| {
                s.throttle.login_per_pair = 0;
                s.throttle.login_per_username = 0;
                s.throttle.login_per_ip = 0;
            },
            Overrides::default(),
        )
        .await,
    );
    let user = app.signed_up("racer").await;
    let id = user_id_of(&user.access);
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let csrf = browser.csrf().await;
    let mut password = "password123".to_owned();
    let mut logged_in_before_the_reset = 0;
    for round in 0..30 {
        let next = format!("reset-password-{round}");
        let login = {
            let (app, password) = (app.clone(), password.clone());
            tokio::spawn(async move { app.login("racer", &password).await })
        };
        let reset = browser
            .post(
                &format!("/admin/users/{id}/password/"),
                &[("csrf_token", &csrf), ("password", &next)],
            )
            .await;
        assert_redirect(&reset, &format!("/admin/users/{id}/?notice=password"));
        let login = login.await.unwrap();
        if login.status() == StatusCode::OK {
            logged_in_before_the_reset += 1;
            let tokens: serde_json::Value = login.json().await.unwrap();
            let access = tokens["access_token"].as_str().unwrap();
            let refresh = tokens["refresh_token"].as_str().unwrap();
            assert_problem(
                app.chat(access, "after the reset").await,
                StatusCode::UNAUTHORIZED,
                "token_invalid",
            )
            .await;
            assert_problem(
                app.post("/token/refresh/", json!({"refresh": refresh}), None)
                    .await,
                StatusCode::UNAUTHORIZED,
                "token_invalid",
            )
            .await;
        } else {
            assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
        password = next;
    }
    assert!(
        logged_in_before_the_reset > 0,
        "some logins must have raced the reset with the old password"
    );
    assert_eq!(
        app.login("racer", &password).await.status(),
        StatusCode::OK,
        "the newest password works"
    );
}

#[apply(on_every_backend)]
async fn a_nul_in_any_admin_field_is_a_client_error_never_an_outage(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("victim").await;
    create_superuser(&app, "root").await;
    let mut anonymous = Browser::new(&app);
    for (username, password) in [("ro\0ot", ADMIN_PASSWORD), ("root", "admin-pass\0word-1")] {
        let response = anonymous.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "{username:?}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("id=\"login-error\"")
        );
    }
    let mut browser = Browser::new(&app);
    browser.login("root", ADMIN_PASSWORD).await;
    let csrf = browser.csrf().await;
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let posts: [(&str, Form, StatusCode); 8] = [
        (
            "/admin/users/1/tokens/",
            vec![("direction", "credit"), ("amount", "1\0"), ("reason", "r")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/1/tokens/",
            vec![("direction", "credit"), ("amount", "1"), ("reason", "a\0b")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/1/tokens/",
            vec![("direction", "cre\0dit"), ("amount", "1"), ("reason", "r")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/1/active/",
            vec![("active", "fal\0se")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/1/password/",
            vec![("password", "new-pass\0word")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/1/login-lock/",
            vec![("csrf_token", "x\0")],
            StatusCode::FORBIDDEN,
        ),
        (
            "/admin/users/1\0/login-lock/",
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            "/admin/logout/",
            vec![("csrf_token", "\0")],
            StatusCode::FORBIDDEN,
        ),
    ];
    for (path, fields, status) in posts {
        // The session's token unless the case brings its own.
        let mut form = fields;
        if form.iter().all(|(name, _)| *name != "csrf_token") {
            form.push(("csrf_token", csrf.as_str()));
        }
        let response = browser.post(path, &form).await;
        assert_eq!(response.status(), status, "{path} {form:?}");
        assert_html(&response);
    }
    for path in [
        "/admin/users/?q=%00",
        "/admin/users/?q=a%00b&page=%00",
        "/admin/chats/?user=%00",
        "/admin/chats/?from=%00&to=2025-01-01%00",
        "/admin/users/%00/",
        "/admin/chats/%00/",
    ] {
        let status = browser.get(path).await.status();
        assert!(
            status.is_success() || status.is_client_error(),
            "{path}: {status}"
        );
    }
    assert_eq!(balance_of(&app, 1).await, 4000, "nothing changed");
    assert_eq!(
        app.login("victim", "password123").await.status(),
        StatusCode::OK
    );
}

#[apply(on_every_backend)]
async fn a_cross_site_form_post_to_the_admin_is_refused_and_its_own_forms_work(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |s| s.server.trusted_proxies = vec!["127.0.0.1".into()],
        Overrides::default(),
    )
    .await;
    app.signed_up("victim").await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    let csrf = csrf_in(&browser.page("/admin/login/").await);
    let login = [
        ("username", "root"),
        ("password", ADMIN_PASSWORD),
        ("csrf_token", csrf.as_str()),
    ];
    for headers in [
        [
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        [
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "none"),
        ],
        [("Origin", "null"), ("X-Ignored", "")],
        [("Sec-Fetch-Site", "cross-site"), ("X-Ignored", "")],
    ] {
        let response = browser.post_with("/admin/login/", &login, &headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert_html(&response);
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        assert!(browser.session_cookie().is_none());
    }
    let own = app.address.clone();
    let response = browser
        .post_with(
            "/admin/login/",
            &login,
            &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_redirect(&response, "/admin/");
    let csrf = browser.csrf().await;
    let credit = [
        ("csrf_token", csrf.as_str()),
        ("direction", "credit"),
        ("amount", "500"),
        ("reason", "cross-site"),
    ];
    let response = browser
        .post_with(
            "/admin/users/1/tokens/",
            &credit,
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(balance_of(&app, 1).await, 4000, "the session rode nothing");
    // Behind a TLS-terminating trusted proxy the browser's origin is https.
    let tls_origin = own.replacen("http://", "https://", 1);
    let response = browser
        .post_with(
            "/admin/users/1/tokens/",
            &credit,
            &[("Origin", &tls_origin), ("X-Forwarded-Proto", "https")],
        )
        .await;
    assert_redirect(&response, "/admin/users/1/?notice=credited");
    assert_eq!(balance_of(&app, 1).await, 4500);
}

#[apply(on_every_backend)]
async fn outside_development_every_admin_cookie_is_secure(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |s| s.profile = "production".into(),
        Overrides::default(),
    )
    .await;
    create_superuser(&app, "root").await;
    let mut browser = Browser::new(&app);
    let response = browser.login("root", ADMIN_PASSWORD).await;
    assert_redirect(&response, "/admin/");
    let session = browser
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("chat_admin_session="))
        .expect("a session cookie");
    assert!(
        session.contains("Secure"),
        "plain HTTP, yet Secure: {session}"
    );
    browser.get("/admin/login/").await;
    let development = spawn_app(backend).await;
    create_superuser(&development, "root").await;
    let mut local = Browser::new(&development);
    local.login("root", ADMIN_PASSWORD).await;
    let session = local
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("chat_admin_session="))
        .expect("a session cookie");
    assert!(
        !session.contains("Secure"),
        "development over plain HTTP stays usable: {session}"
    );
}

#[apply(on_every_backend)]
async fn lifting_a_login_lock_on_the_user_page_lets_the_owner_back_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signed_up("locked_out").await;
    let id = user_id_of(&user.access);
    for _ in 0..5 {
        assert_eq!(
            app.login("locked_out", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("locked_out", "password123").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let mut browser = Browser::new(&app);
    browser.logged_in_admin("root").await;
    let page = browser.page(&format!("/admin/users/{id}/")).await;
    assert!(page.contains("id=\"lift-login-lock\""));
    let csrf = csrf_in(&page);
    let response = browser
        .post(
            &format!("/admin/users/{id}/login-lock/"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_redirect(&response, &format!("/admin/users/{id}/?notice=unlocked"));
    assert!(
        browser
            .page(&format!("/admin/users/{id}/?notice=unlocked"))
            .await
            .contains("Login lock lifted")
    );
    assert_eq!(
        app.login("locked_out", "password123").await.status(),
        StatusCode::OK
    );
}
