//! Authentication hardening over real HTTP: login and sign-up throttling, refresh-token
//! rotation and reuse detection, logout, and security headers. Throttling tests use the real
//! default counts; addresses are simulated with `X-Forwarded-For` from a trusted proxy (the test
//! client on 127.0.0.1).

use reqwest::{Response, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
const THROTTLED: StatusCode = StatusCode::TOO_MANY_REQUESTS;

/// A service that believes `X-Forwarded-For` from the test client, so tests can play clients on
/// several addresses.
async fn behind_proxy(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        |settings| settings.server.trusted_proxies = vec!["127.0.0.1".into(), "::1".into()],
        Overrides::default(),
    )
    .await
}

async fn post_from(app: &TestApp, ip: &str, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .header("X-Forwarded-For", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> Response {
    post_from(
        app,
        ip,
        "/login/",
        json!({"username": username, "password": password}),
    )
    .await
}

async fn fail_logins(app: &TestApp, ip: &str, username: &str, times: usize) {
    for attempt in 0..times {
        let response = login_from(app, ip, username, "wrong-password-1").await;
        assert_eq!(
            response.status(),
            UNAUTHORIZED,
            "attempt {attempt} from {ip}"
        );
    }
}

/// Asserts a 429 with a sensible `Retry-After` and no caching.
async fn assert_throttled(response: Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_problem(response, THROTTLED, "throttled").await;
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    app.post("/token/refresh/", json!({"refresh": token}), None)
        .await
}

async fn logout(app: &TestApp, access: &str, refresh: &str) -> Response {
    app.post("/logout/", json!({"refresh": refresh}), Some(access))
        .await
}

fn rotating(settings: &mut api::Settings) {
    settings.auth.rotate_refresh_tokens = true;
}

#[apply(on_every_backend)]
async fn six_wrong_logins_for_one_pair_get_429_without_checking_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("victim").await;
    for _ in 0..5 {
        assert_problem(
            app.login("victim", "wrong-password-1").await,
            UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // The right password no longer helps from this address: it is not even checked.
    let response = app.login("victim", "password123").await;
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    assert_throttled(response).await;
    assert_throttled(app.login("VICTIM", "wrong-password-1").await).await;
}

#[apply(on_every_backend)]
async fn an_attacker_on_another_ip_cannot_lock_out_the_victim(backend: Backend) {
    let app = behind_proxy(backend).await;
    app.signed_up("victim").await;
    fail_logins(&app, "198.51.100.66", "victim", 5).await;
    assert_throttled(login_from(&app, "198.51.100.66", "victim", "password123").await).await;
    let response = login_from(&app, "203.0.113.7", "victim", "password123").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the victim's own address is unaffected"
    );
}

#[apply(on_every_backend)]
async fn a_successful_login_resets_its_pair(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("forgetful").await;
    fail_logins(&app, "127.0.0.1", "forgetful", 4).await;
    assert_eq!(
        app.login("forgetful", "password123").await.status(),
        StatusCode::OK
    );
    fail_logins(&app, "127.0.0.1", "forgetful", 4).await;
    assert_eq!(
        app.login("forgetful", "password123").await.status(),
        StatusCode::OK
    );
}

#[apply(on_every_backend)]
async fn twenty_failures_across_ips_throttle_the_username_everywhere(backend: Backend) {
    let app = behind_proxy(backend).await;
    app.signed_up("target").await;
    for ip in [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ] {
        fail_logins(&app, ip, "target", 5).await;
    }
    assert_throttled(login_from(&app, "203.0.113.50", "target", "password123").await).await;
    // Other accounts on that address are unaffected.
    app.signed_up("bystander").await;
    assert_eq!(
        login_from(&app, "203.0.113.50", "bystander", "password123")
            .await
            .status(),
        StatusCode::OK
    );
}

#[apply(on_every_backend)]
async fn the_per_ip_cap_throttles_one_address_spraying_many_usernames(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.server.trusted_proxies = vec!["127.0.0.1".into()];
            settings.throttle.login_per_ip = 12;
        },
        Overrides::default(),
    )
    .await;
    for user in 0..4 {
        fail_logins(&app, "192.0.2.9", &format!("sprayed{user}"), 3).await;
    }
    assert_throttled(login_from(&app, "192.0.2.9", "anyone", "password123").await).await;
    assert_eq!(
        login_from(&app, "192.0.2.10", "anyone", "wrong-password-1")
            .await
            .status(),
        UNAUTHORIZED
    );
}

#[apply(on_every_backend)]
async fn forwarded_for_from_an_untrusted_peer_does_not_evade_the_throttle(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("victim").await;
    for i in 0..5 {
        let response = login_from(&app, &format!("10.0.0.{i}"), "victim", "wrong-password-1").await;
        assert_eq!(response.status(), UNAUTHORIZED);
    }
    assert_throttled(login_from(&app, "10.0.0.99", "victim", "password123").await).await;
}

#[apply(on_every_backend)]
async fn sign_up_is_throttled_per_ip(backend: Backend) {
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.server.trusted_proxies = vec!["127.0.0.1".into()];
            settings.throttle.signup_per_ip = 3;
        },
        Overrides::default(),
    )
    .await;
    let register = |name: &str| json!({"username": name, "password": "password123"});
    for name in ["farm1", "farm2", "farm3"] {
        assert_eq!(
            post_from(&app, "192.0.2.1", "/register/", register(name))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let response = post_from(&app, "192.0.2.1", "/register/", register("farm4")).await;
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    assert_throttled(response).await;
    assert_eq!(
        post_from(&app, "192.0.2.2", "/register/", register("farm4"))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.storage().await.ledger_totals().await.unwrap().len(),
        4,
        "the throttled sign-up created nothing"
    );
}

#[apply(on_every_backend)]
async fn without_rotation_a_refresh_token_keeps_working_and_none_is_returned(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("seed_client").await;
    for _ in 0..3 {
        let response = refresh(&app, &session.refresh).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert!(body["access_token"].is_string());
        assert!(body.get("refresh_token").is_none(), "{body}");
    }
}

#[apply(on_every_backend)]
async fn with_rotation_refresh_returns_a_successor_and_the_old_token_stops_working(
    backend: Backend,
) {
    let app = spawn_app_with(backend, rotating, Overrides::default()).await;
    let session = app.signed_up("rotator").await;
    let mut current = session.refresh.clone();
    for _ in 0..3 {
        let response = refresh(&app, &current).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(app.balance(access).await, 4000);
        let next = body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, current);
        current = next;
    }
    assert_eq!(
        refresh(&app, &current).await.status(),
        StatusCode::OK,
        "the newest token works"
    );
}

#[apply(on_every_backend)]
async fn reusing_a_rotated_out_refresh_token_revokes_its_whole_family(backend: Backend) {
    let app = spawn_app_with(backend, rotating, Overrides::default()).await;
    let stolen = app.signed_up("robbed").await;
    let other_device: Value = app
        .login("robbed", "password123")
        .await
        .json()
        .await
        .unwrap();
    let body: Value = refresh(&app, &stolen.refresh).await.json().await.unwrap();
    let successor = body["refresh_token"].as_str().unwrap().to_owned();
    // The thief replays the rotated-out token: refused, and the family dies with it.
    assert_problem(
        refresh(&app, &stolen.refresh).await,
        UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_problem(
        refresh(&app, &successor).await,
        UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    // Another login session of the same user is untouched.
    let other = other_device["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, other).await.status(), StatusCode::OK);
}

#[apply(on_every_backend)]
async fn logout_revokes_the_refresh_token_without_rotation(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("leaver").await;
    let second: Value = app
        .login("leaver", "password123")
        .await
        .json()
        .await
        .unwrap();
    let response = logout(&app, &session.access, &session.refresh).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    assert_problem(
        refresh(&app, &session.refresh).await,
        UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_eq!(
        logout(&app, &session.access, &session.refresh)
            .await
            .status(),
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, second_refresh).await.status(),
        StatusCode::OK,
        "other sessions live on"
    );
}

#[apply(on_every_backend)]
async fn logout_with_rotation_ends_the_session_and_works_without_a_slash(backend: Backend) {
    let app = spawn_app_with(backend, rotating, Overrides::default()).await;
    let session = app.signed_up("leaver2").await;
    let body: Value = refresh(&app, &session.refresh).await.json().await.unwrap();
    let current = body["refresh_token"].as_str().unwrap();
    let response = app
        .post(
            "/logout",
            json!({"refresh": current}),
            Some(&session.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(refresh(&app, current).await, UNAUTHORIZED, "token_invalid").await;
}

#[apply(on_every_backend)]
async fn logout_needs_access_auth_and_the_callers_own_refresh_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    let anonymous = app
        .post("/logout/", json!({"refresh": alice.refresh}), None)
        .await;
    assert_problem(anonymous, UNAUTHORIZED, "not_authenticated").await;
    let with_refresh_as_access = logout(&app, &alice.refresh, &alice.refresh).await;
    assert_problem(with_refresh_as_access, UNAUTHORIZED, "token_invalid").await;
    let response = logout(&app, &bob.access, &alice.refresh).await;
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    assert_problem(response, UNAUTHORIZED, "token_invalid").await;
    assert_eq!(
        refresh(&app, &alice.refresh).await.status(),
        StatusCode::OK,
        "alice's session survives"
    );
    assert_problem(
        logout(&app, &alice.access, &alice.access).await,
        UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.post("/logout/", json!({}), Some(&alice.access)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}

#[apply(on_every_backend)]
async fn auth_responses_and_their_errors_are_never_cached(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("cached").await;
    let responses = vec![
        app.register("cached2", "password123").await,
        app.register("", "").await,
        app.login("cached", "password123").await,
        app.login("cached", "wrong-password-1").await,
        refresh(&app, &session.refresh).await,
        refresh(&app, "garbage").await,
        app.client.get(app.url("/login/")).send().await.unwrap(),
        app.client
            .post(app.url("/token/refresh"))
            .header("Content-Type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
        logout(&app, "garbage", &session.refresh).await,
    ];
    for response in responses {
        let status = response.status();
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{status}"
        );
        assert_eq!(
            response.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
    }
}

#[apply(on_every_backend)]
async fn no_response_names_the_server_software(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("curious").await;
    let responses = vec![
        app.client
            .get(app.url("/token_balance/"))
            .header("Authorization", format!("Token {}", session.access))
            .send()
            .await
            .unwrap(),
        app.client.get(app.url("/nope")).send().await.unwrap(),
        app.login("curious", "wrong-password-1").await,
        app.chat(&session.access, "hello").await,
    ];
    for response in responses {
        assert!(
            response.headers().get("server").is_none(),
            "{:?}",
            response.headers()
        );
        assert!(response.headers().get("x-powered-by").is_none());
        assert_eq!(
            response.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
    }
}

/// Sends `count` copies of a request at once (`request(i)` builds the i-th) and tallies the
/// statuses they got.
async fn burst<F, Fut>(count: usize, request: F) -> std::collections::BTreeMap<u16, usize>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let requests = (0..count).map(|i| {
        let response = request(i);
        tokio::spawn(async move { response.await.status() })
    });
    let mut tally = std::collections::BTreeMap::new();
    for status in join_statuses(requests).await {
        *tally.entry(status.as_u16()).or_default() += 1;
    }
    tally
}

#[apply(on_every_backend)]
async fn a_burst_of_60_sign_ups_from_one_address_creates_at_most_20_accounts(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let tally = burst(60, |i| {
        let app = app.clone();
        async move { app.register(&format!("burst{i}"), "password123").await }
    })
    .await;
    assert_eq!(tally, [(201, 20), (429, 40)].into(), "{tally:?}");
    assert_eq!(app.storage().await.ledger_totals().await.unwrap().len(), 20);
}

#[apply(on_every_backend)]
async fn a_burst_of_40_wrong_passwords_checks_at_most_5(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    app.signed_up("besieged").await;
    // Every 401 is a checked password; a 429 is refused before bcrypt runs.
    let tally = burst(40, |_| {
        let app = app.clone();
        async move { app.login("besieged", "wrong-password-1").await }
    })
    .await;
    assert_eq!(tally, [(401, 5), (429, 35)].into(), "{tally:?}");
}

#[apply(on_every_backend)]
async fn a_stranger_who_fills_the_username_cap_cannot_lock_the_owner_out_of_a_known_address(
    backend: Backend,
) {
    let app = behind_proxy(backend).await;
    app.signed_up("owner").await;
    let home = "203.0.113.7";
    assert_eq!(
        login_from(&app, home, "owner", "password123")
            .await
            .status(),
        StatusCode::OK
    );
    for ip in [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ] {
        fail_logins(&app, ip, "owner", 5).await;
    }
    assert_throttled(login_from(&app, "192.0.2.200", "owner", "password123").await).await;
    assert_eq!(
        login_from(&app, home, "owner", "password123")
            .await
            .status(),
        StatusCode::OK,
        "the owner's usual address is exempt from the per-username cap"
    );
}

/// A form post as a browser sends it: `origin` and `fetch_site` as given (`None`: not sent).
async fn form_post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> Response {
    let mut request = app.client.post(app.url(path)).form(form);
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    if let Some(fetch_site) = fetch_site {
        request = request.header("Sec-Fetch-Site", fetch_site);
    }
    request.send().await.unwrap()
}

#[apply(on_every_backend)]
async fn a_cross_site_form_post_is_refused_and_a_plain_form_login_still_works(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("visitor").await;
    let sign_up = [("username", "farmed"), ("password", "password123")];
    let login = [("username", "visitor"), ("password", "password123")];
    for (path, form) in [("/register/", &sign_up), ("/login/", &login)] {
        for (origin, fetch_site) in [
            (Some("https://evil.example"), Some("cross-site")),
            (Some("https://evil.example"), None),
            (None, Some("cross-site")),
            (Some("null"), None),
        ] {
            let response = form_post(&app, path, form, origin, fetch_site).await;
            assert_eq!(response.headers()["cache-control"], "no-store");
            assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
        }
    }
    assert_eq!(
        app.storage().await.ledger_totals().await.unwrap().len(),
        1,
        "no account was farmed"
    );
    assert_eq!(
        form_post(&app, "/login/", &login, None, None)
            .await
            .status(),
        StatusCode::OK,
        "clients that send neither header work as before"
    );
    let own = app.address.clone();
    assert_eq!(
        form_post(&app, "/login/", &login, Some(&own), Some("same-origin"))
            .await
            .status(),
        StatusCode::OK,
        "a form served by this server may post to it"
    );
    let json = app
        .client
        .post(app.url("/login/"))
        .header("Origin", "https://evil.example")
        .json(&json!({"username": "visitor", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.status(),
        StatusCode::OK,
        "JSON needs a CORS preflight, which a browser cannot pass here"
    );
}

#[apply(on_every_backend)]
async fn a_username_that_looks_like_a_taken_one_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("admin").await;
    app.signed_up("paypal").await;
    for look_alike in ["\u{430}dmin", "ADMIN", "\u{FF41}dmin", "paypa1", "PAYPAL"] {
        assert_problem(
            app.register(look_alike, "password123").await,
            StatusCode::BAD_REQUEST,
            "username_taken",
        )
        .await;
    }
    assert_eq!(
        app.register("admins", "password123").await.status(),
        StatusCode::CREATED
    );
}

#[apply(on_every_backend)]
async fn a_login_re_hashes_a_password_stored_at_another_cost(backend: Backend) {
    let database = {
        let app = spawn_app_with(backend, |s| s.auth.bcrypt_cost = 5, Overrides::default()).await;
        app.signed_up("upgrader").await;
        let database = app.database.clone();
        app.stop().await;
        database
    };
    let stored = || {
        test_support::sql::strings(
            &database.url,
            "SELECT password_hash AS value FROM users WHERE username = 'upgrader'",
        )
        .remove(0)
    };
    let before = stored();
    assert!(before.starts_with("$2b$05$"), "{before}");
    let app = spawn_on(database.clone(), |_| {}, Overrides::default()).await;
    assert_eq!(
        app.login("upgrader", "password123").await.status(),
        StatusCode::OK
    );
    let after = stored();
    assert!(
        after.starts_with("$2b$04$"),
        "re-hashed at the configured cost: {after}"
    );
    assert_eq!(
        app.login("upgrader", "password123").await.status(),
        StatusCode::OK,
        "the new hash is of the same password"
    );
    assert_eq!(stored(), after, "hashed once, not at every login");
    assert_eq!(
        app.login("upgrader", "wrong-password-1").await.status(),
        StatusCode::UNAUTHORIZED
    );
}
