//! Hostile and malformed requests: each gets the exact status and `code`, none changes any state.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

/// One hostile request and the answer it must get.
struct Case {
    name: String,
    method: Method,
    path: &'static str,
    authorization: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    idempotency_key: Option<String>,
    status: StatusCode,
    code: &'static str,
}

fn case(
    name: &str,
    method: Method,
    path: &'static str,
    status: StatusCode,
    code: &'static str,
) -> Case {
    Case {
        name: name.to_owned(),
        method,
        path,
        authorization: None,
        content_type: None,
        body: Vec::new(),
        idempotency_key: None,
        status,
        code,
    }
}

impl Case {
    fn json(mut self, body: Value) -> Self {
        self.content_type = Some("application/json");
        self.body = body.to_string().into_bytes();
        self
    }

    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }

    fn auth(mut self, value: impl Into<String>) -> Self {
        self.authorization = Some(value.into());
        self
    }

    fn token(self, token: &str) -> Self {
        self.auth(format!("Token {token}"))
    }

    fn key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

fn register(name: &str, body: Value) -> Case {
    case(name, Method::POST, "/register/", BAD, "invalid_request").json(body)
}

fn login(name: &str, body: Value) -> Case {
    case(name, Method::POST, "/login/", BAD, "invalid_request").json(body)
}

fn chat(name: &str, access: &str, body: Value) -> Case {
    case(name, Method::POST, "/chatView/", BAD, "invalid_request")
        .token(access)
        .json(body)
}

fn chat_with_token(name: &str, authorization: Option<String>, code: &'static str) -> Case {
    let mut case =
        case(name, Method::POST, "/chatView/", UNAUTHORIZED, code).json(json!({"message": "hi"}));
    case.authorization = authorization;
    case
}

fn signed(header: Header, claims: Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn claims(user_id: i64, token_type: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": user_id.to_string(),
        "exp": now + exp_offset,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "token_type": token_type,
    })
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// A token whose header claims `alg` with a made-up signature (an RS256 token with no key, say).
fn claiming_alg(alg: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))
}

fn logout(name: &str, access: &str, body: Value, status: StatusCode, code: &'static str) -> Case {
    case(name, Method::POST, "/logout/", status, code)
        .token(access)
        .json(body)
}

/// A NUL (which PostgreSQL text cannot store) in every string field of every route, in JSON and
/// in form bodies: each is a 400 before anything reaches storage. (Header values cannot carry a
/// NUL at all: HTTP forbids it, and neither client nor server will send or accept one.)
fn nul_cases(victim: &Session) -> Vec<Case> {
    let nul = |text: &str| format!("{text}\u{0}");
    let form = "application/x-www-form-urlencoded";
    let access = victim.access.as_str();
    let mut cases = Vec::new();
    for (path, fields) in [
        ("/register/", ["username", "password"]),
        ("/login/", ["username", "password"]),
    ] {
        for field in fields {
            let mut body = json!({"username": "victim", "password": "password123"});
            body[field] = json!(nul(body[field].as_str().unwrap()));
            let name = format!("{path}: NUL in {field}");
            cases.push(case(&name, Method::POST, path, BAD, "invalid_request").json(body));
            let encoded = if field == "username" {
                "username=vic%00tim&password=password123"
            } else {
                "username=victim&password=pass%00word123"
            };
            cases.push(
                case(
                    &format!("{name}, form"),
                    Method::POST,
                    path,
                    BAD,
                    "invalid_request",
                )
                .raw(form, encoded),
            );
        }
    }
    let refresh = nul(&victim.refresh);
    cases.extend([
        case(
            "refresh: NUL in refresh",
            Method::POST,
            "/token/refresh/",
            BAD,
            "invalid_request",
        )
        .json(json!({"refresh": refresh})),
        case(
            "refresh: NUL in refresh, form",
            Method::POST,
            "/token/refresh/",
            BAD,
            "invalid_request",
        )
        .raw(form, "refresh=%00"),
        logout(
            "logout: NUL in refresh",
            access,
            json!({"refresh": refresh}),
            BAD,
            "invalid_request",
        ),
        case(
            "logout: NUL in refresh, form",
            Method::POST,
            "/logout/",
            BAD,
            "invalid_request",
        )
        .token(access)
        .raw(form, "refresh=x%00"),
        chat(
            "chat: NUL alone as the message",
            access,
            json!({"message": "\u{0}"}),
        ),
        case(
            "chat: NUL in message, form",
            Method::POST,
            "/chatView/",
            BAD,
            "invalid_request",
        )
        .token(access)
        .raw(form, "message=hi%00there"),
    ]);
    cases
}

fn cases(victim: &Session, victim_id: i64) -> Vec<Case> {
    let secret = TEST_SECRET.as_bytes();
    let hs256 = || Header::new(Algorithm::HS256);
    let access = victim.access.as_str();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let big = "x".repeat(70 * 1024);
    let forged = |claims: Value| format!("Token {}", signed(hs256(), claims, secret));
    vec![
        // Registration: body shape.
        register("register: empty object", json!({})),
        register("register: missing password", json!({"username": "mallory"})),
        register(
            "register: username is a number",
            json!({"username": 5, "password": "password123"}),
        ),
        register(
            "register: username is a bool",
            json!({"username": true, "password": "password123"}),
        ),
        register(
            "register: username is null",
            json!({"username": null, "password": "password123"}),
        ),
        register(
            "register: password is a list",
            json!({"username": "mallory", "password": ["password123"]}),
        ),
        register(
            "register: password is a negative number",
            json!({"username": "mallory", "password": -12_345_678}),
        ),
        register(
            "register: password is an object",
            json!({"username": "mallory", "password": {"$ne": ""}}),
        ),
        case(
            "register: malformed json",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", "{\"username\": \"x\","),
        case(
            "register: truncated json",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw(
            "application/json",
            "{\"username\": \"x\", \"password\": \"passw",
        ),
        case(
            "register: json array",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", "[\"mallory\", \"password123\"]"),
        case(
            "register: json string",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", "\"mallory\""),
        case(
            "register: json null",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", "null"),
        case(
            "register: empty json body",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", ""),
        case(
            "register: non-utf8 json",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw(
            "application/json",
            b"{\"username\": \"\xff\xfe\", \"password\": \"password123\"}".to_vec(),
        ),
        case(
            "register: deeply nested json",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw("application/json", deep.clone()),
        case(
            "register: huge number",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw(
            "application/json",
            "{\"username\": 1e999, \"password\": \"password123\"}",
        ),
        case(
            "register: non-utf8 form",
            Method::POST,
            "/register/",
            BAD,
            "invalid_request",
        )
        .raw(
            "application/x-www-form-urlencoded",
            b"username=%ff%fe&password=password123".to_vec(),
        ),
        case(
            "register: text/plain",
            Method::POST,
            "/register/",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .raw("text/plain", "username=mallory"),
        case(
            "register: xml",
            Method::POST,
            "/register/",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .raw("application/xml", "<u>mallory</u>"),
        case(
            "register: multipart",
            Method::POST,
            "/register/",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .raw("multipart/form-data; boundary=x", "--x--"),
        case(
            "register: body over 64 KiB",
            Method::POST,
            "/register/",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .json(json!({"username": "mallory", "password": "password123", "pad": big})),
        // Registration: username and password rules.
        register(
            "register: blank username",
            json!({"username": "", "password": "password123"}),
        ),
        register(
            "register: whitespace username",
            json!({"username": "   ", "password": "password123"}),
        ),
        register(
            "register: 151-character username",
            json!({"username": "a".repeat(151), "password": "password123"}),
        ),
        register(
            "register: username with a space",
            json!({"username": "mal lory", "password": "password123"}),
        ),
        register(
            "register: sql injection username",
            json!({"username": "admin' OR '1'='1", "password": "password123"}),
        ),
        register(
            "register: script username",
            json!({"username": "<script>alert(1)</script>", "password": "password123"}),
        ),
        register(
            "register: nul byte in username",
            json!({"username": "mal\u{0}lory", "password": "password123"}),
        ),
        register(
            "register: right-to-left override in username",
            json!({"username": "mal\u{202E}lory", "password": "password123"}),
        ),
        register(
            "register: zero-width joiner in username",
            json!({"username": "mal\u{200D}lory", "password": "password123"}),
        ),
        register(
            "register: emoji username",
            json!({"username": "😀", "password": "password123"}),
        ),
        register(
            "register: short password",
            json!({"username": "mallory", "password": "short1"}),
        ),
        register(
            "register: numeric password",
            json!({"username": "mallory", "password": "1234567890"}),
        ),
        register(
            "register: password equals username",
            json!({"username": "mallory1", "password": "MALLORY1"}),
        ),
        register(
            "register: 73-byte password",
            json!({"username": "mallory", "password": "a".repeat(73)}),
        ),
        register(
            "register: 75-byte multibyte password",
            json!({"username": "mallory", "password": "€".repeat(25)}),
        ),
        case(
            "register: taken username, other case",
            Method::POST,
            "/register/",
            BAD,
            "username_taken",
        )
        .json(json!({"username": "VICTIM", "password": "password123"})),
        // Login.
        login("login: missing password", json!({"username": "victim"})),
        login(
            "login: username is an object",
            json!({"username": {"$gt": ""}, "password": "password123"}),
        ),
        login(
            "login: 73-byte password",
            json!({"username": "victim", "password": "a".repeat(73)}),
        ),
        login(
            "login: blank password",
            json!({"username": "victim", "password": ""}),
        ),
        case(
            "login: wrong password",
            Method::POST,
            "/login/",
            UNAUTHORIZED,
            "invalid_credentials",
        )
        .json(json!({"username": "victim", "password": "password124"})),
        case(
            "login: sql injection",
            Method::POST,
            "/login/",
            UNAUTHORIZED,
            "invalid_credentials",
        )
        .json(json!({"username": "victim' --", "password": "' OR '1'='1"})),
        case(
            "login: text/plain",
            Method::POST,
            "/login/",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .raw("text/plain", "victim"),
        case(
            "login: form missing fields",
            Method::POST,
            "/login/",
            BAD,
            "invalid_request",
        )
        .raw("application/x-www-form-urlencoded", "user=victim"),
        // Chat: credentials.
        chat_with_token("chat: no authorization header", None, "not_authenticated"),
        chat_with_token(
            "chat: empty authorization header",
            Some(String::new()),
            "not_authenticated",
        ),
        chat_with_token(
            "chat: basic scheme",
            Some("Basic dmljdGltOnBhc3N3b3JkMTIz".into()),
            "not_authenticated",
        ),
        chat_with_token(
            "chat: token scheme without token",
            Some("Token".into()),
            "token_invalid",
        ),
        chat_with_token(
            "chat: garbage token",
            Some("Token not.a.jwt".into()),
            "token_invalid",
        ),
        chat_with_token(
            "chat: refresh token as access",
            Some(format!("Token {}", victim.refresh)),
            "token_invalid",
        ),
        chat_with_token(
            "chat: expired token",
            Some(forged(claims(victim_id, "access", -60))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: alg none",
            Some(format!(
                "Token {}",
                unsigned(&claims(victim_id, "access", 60))
            )),
            "token_invalid",
        ),
        chat_with_token(
            "chat: hs512 token",
            Some(format!(
                "Token {}",
                signed(
                    Header::new(Algorithm::HS512),
                    claims(victim_id, "access", 60),
                    secret
                )
            )),
            "token_invalid",
        ),
        chat_with_token(
            "chat: wrong signature",
            Some(format!(
                "Token {}",
                signed(
                    hs256(),
                    claims(victim_id, "access", 60),
                    b"another-secret-another-secret-0000"
                )
            )),
            "token_invalid",
        ),
        chat_with_token(
            "chat: missing token_type",
            Some(forged(without(
                claims(victim_id, "access", 60),
                "token_type",
            ))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: unknown token_type",
            Some(forged(claims(victim_id, "admin", 60))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: missing exp",
            Some(forged(without(claims(victim_id, "access", 60), "exp"))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: unknown user",
            Some(forged(claims(999_999, "access", 60))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: non-numeric sub",
            Some(forged(json!({
                "sub": "1 OR 1=1",
                "exp": chrono::Utc::now().timestamp() + 60,
                "iat": 0,
                "jti": "x",
                "token_type": "access",
            }))),
            "token_invalid",
        ),
        // Chat: body.
        chat("chat: empty message", access, json!({"message": ""})),
        chat(
            "chat: whitespace message",
            access,
            json!({"message": " \n\t "}),
        ),
        chat(
            "chat: 4001-character message",
            access,
            json!({"message": "a".repeat(4001)}),
        ),
        chat("chat: message is a number", access, json!({"message": 42})),
        chat(
            "chat: nul character in message",
            access,
            json!({"message": "before\u{0}after"}),
        ),
        chat("chat: message is null", access, json!({"message": null})),
        chat(
            "chat: message is an object",
            access,
            json!({"message": {"text": "hi"}}),
        ),
        chat("chat: message missing", access, json!({"msg": "hi"})),
        chat(
            "chat: malformed idempotency key",
            access,
            json!({"message": "hi"}),
        )
        .key("has spaces in it"),
        chat(
            "chat: oversized idempotency key",
            access,
            json!({"message": "hi"}),
        )
        .key("k".repeat(300)),
        case(
            "chat: non-utf8 body",
            Method::POST,
            "/chatView/",
            BAD,
            "invalid_request",
        )
        .token(access)
        .raw("application/json", b"{\"message\": \"\xc3\x28\"}".to_vec()),
        case(
            "chat: body over 64 KiB",
            Method::POST,
            "/chatView/",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .token(access)
        .json(json!({"message": big})),
        case(
            "chat: text/plain",
            Method::POST,
            "/chatView/",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .token(access)
        .raw("text/plain", "hi"),
        // Balance, refresh, routing.
        case(
            "balance: garbage token",
            Method::GET,
            "/token_balance/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .token("garbage"),
        case(
            "balance: no credentials",
            Method::GET,
            "/token_balance/",
            UNAUTHORIZED,
            "not_authenticated",
        ),
        case(
            "balance: wrong method",
            Method::POST,
            "/token_balance/",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .token(access),
        case(
            "refresh: access token as refresh",
            Method::POST,
            "/token/refresh/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .json(json!({"refresh": access})),
        case(
            "refresh: garbage",
            Method::POST,
            "/token/refresh/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .json(json!({"refresh": "garbage"})),
        case(
            "refresh: missing field",
            Method::POST,
            "/token/refresh/",
            BAD,
            "invalid_request",
        )
        .json(json!({"refresh_token": "x"})),
        case(
            "refresh: number",
            Method::POST,
            "/token/refresh/",
            BAD,
            "invalid_request",
        )
        .json(json!({"refresh": 1})),
        case(
            "refresh: blank",
            Method::POST,
            "/token/refresh/",
            BAD,
            "invalid_request",
        )
        .json(json!({"refresh": ""})),
        case(
            "refresh: expired",
            Method::POST,
            "/token/refresh/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .json(json!({"refresh": signed(hs256(), claims(victim_id, "refresh", -60), secret)})),
        // Issue 5 additions: JWT edge cases, logout, header bytes, oversized usernames.
        chat_with_token(
            "chat: rs256 header",
            Some(format!(
                "Token {}",
                claiming_alg("RS256", &claims(victim_id, "access", 60))
            )),
            "token_invalid",
        ),
        chat_with_token(
            "chat: lowercase alg none",
            Some(format!(
                "Token {}",
                claiming_alg("None", &claims(victim_id, "access", 60))
            )),
            "token_invalid",
        ),
        chat_with_token(
            "chat: missing iat",
            Some(forged(without(claims(victim_id, "access", 60), "iat"))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: missing sub",
            Some(forged(without(claims(victim_id, "access", 60), "sub"))),
            "token_invalid",
        ),
        chat_with_token(
            "chat: exp as a string",
            Some(forged({
                let mut c = claims(victim_id, "access", 60);
                c["exp"] = json!("tomorrow");
                c
            })),
            "token_invalid",
        ),
        chat_with_token(
            "chat: two tokens in the header",
            Some(format!("Token {access} {access}")),
            "token_invalid",
        ),
        chat_with_token(
            "chat: non-ascii authorization bytes",
            Some("Token \u{e9}\u{e9}".into()),
            "not_authenticated",
        ),
        case(
            "refresh: malformed family claim",
            Method::POST,
            "/token/refresh/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .json(json!({"refresh": signed(hs256(), {
            let mut c = claims(victim_id, "refresh", 60);
            c["fam"] = json!("'; DROP TABLE revoked_tokens; --");
            c
        }, secret)})),
        case(
            "refresh: alg none",
            Method::POST,
            "/token/refresh/",
            UNAUTHORIZED,
            "token_invalid",
        )
        .json(json!({"refresh": unsigned(&claims(victim_id, "refresh", 60))})),
        case(
            "logout: no credentials",
            Method::POST,
            "/logout/",
            UNAUTHORIZED,
            "not_authenticated",
        )
        .json(json!({"refresh": victim.refresh})),
        logout(
            "logout: refresh is a number",
            access,
            json!({"refresh": 12}),
            BAD,
            "invalid_request",
        ),
        logout(
            "logout: garbage refresh",
            access,
            json!({"refresh": "garbage"}),
            UNAUTHORIZED,
            "token_invalid",
        ),
        logout(
            "logout: access token as refresh",
            access,
            json!({"refresh": access}),
            UNAUTHORIZED,
            "token_invalid",
        ),
        logout(
            "logout: another user's forged refresh",
            access,
            json!({"refresh": signed(hs256(), claims(999_999, "refresh", 60), secret)}),
            UNAUTHORIZED,
            "token_invalid",
        ),
        case(
            "logout: wrong method",
            Method::GET,
            "/logout/",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .token(access),
        case(
            "login: 60 KiB username",
            Method::POST,
            "/login/",
            UNAUTHORIZED,
            "invalid_credentials",
        )
        .json(json!({"username": "v".repeat(60 * 1024), "password": "password123"})),
        case(
            "unknown path",
            Method::GET,
            "/admin.php",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        case(
            "register: wrong method",
            Method::GET,
            "/register/",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ]
}

#[apply(on_every_backend)]
async fn hostile_requests_get_exact_errors_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let victim = app.signed_up("victim").await;
    let victim_id = user_id_of(&victim.access);
    let mut cases = cases(&victim, victim_id);
    cases.extend(nul_cases(&victim));
    assert!(
        cases.len() >= 60,
        "the suite covers at least 60 hostile requests"
    );
    for case in cases {
        let mut request = app
            .client
            .request(case.method.clone(), app.url(case.path))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(authorization) = &case.authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(key) = &case.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{}: not JSON: {body}", case.name));
        assert_eq!(
            (status, parsed["code"].as_str()),
            (case.status, Some(case.code)),
            "{}: {body}",
            case.name
        );
        assert!(
            !body.contains("diesel") && !body.contains("sqlite") && !body.contains("/src/"),
            "{}: leaks internals: {body}",
            case.name
        );
    }
    // Nothing changed: one user, untouched balance, no chats, consistent ledger.
    assert_eq!(app.balance(&victim.access).await, 4000);
    let storage = app.storage().await;
    assert_eq!(storage.ledger_totals().await.unwrap().len(), 1);
    assert_eq!(
        storage
            .completed_chat_count(domain::UserId(victim_id))
            .await
            .unwrap(),
        0
    );
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn hostile_text_in_a_valid_message_is_stored_verbatim_and_charged(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("writer").await;
    for message in [
        "<script>alert('x')</script>",
        "'; DROP TABLE users; --",
        "Robert'); DELETE FROM chats WHERE ('1'='1",
        "\u{202E}evil\u{200D}text\u{7}bell",
        "😀 𝕌𝕟𝕚𝕔𝕠𝕕𝕖 ﷽",
        "{{7*7}} ${jndi:ldap://x} %s%n",
    ] {
        let response = app.chat(&session.access, message).await;
        assert_eq!(response.status(), StatusCode::OK, "{message:?}");
        assert_eq!(response.json::<Value>().await.unwrap()["message"], message);
    }
    assert_eq!(app.balance(&session.access).await, 3400);
    app.assert_ledger_consistent().await;
}

#[apply(on_every_backend)]
async fn a_maximal_message_written_as_unicode_escapes_fits_the_body_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("escaper").await;
    let body = format!("{{\"message\": \"{}\"}}", "\\u00e9".repeat(4000));
    let response = app
        .client
        .post(app.url("/chatView/"))
        .header("Authorization", format!("Token {}", session.access))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        4000
    );
}

#[apply(on_every_backend)]
async fn an_inactive_users_tokens_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("sleeper").await;
    let storage = app.storage().await;
    storage
        .set_active(domain::UserId(user_id_of(&session.access)), false)
        .await
        .unwrap();
    assert_problem(
        app.chat(&session.access, "hi").await,
        UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.login("sleeper", "password123").await,
        UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let refresh = app
        .post("/token/refresh/", json!({"refresh": session.refresh}), None)
        .await;
    assert_problem(refresh, UNAUTHORIZED, "token_invalid").await;
}
