//! The OpenAPI document: it lists exactly the routes actix serves, its pages work offline, and a
//! foreign client (schemathesis, from PyPI) finds nothing wrong with the live server against it.

use std::{collections::BTreeSet, path::Path, process::Command, sync::Arc};

use actix_web::{
    App,
    test::{TestRequest, call_service, init_service},
    web,
};
use api::{
    Settings,
    openapi::Docs,
    ops::{Metrics, Operations, Shutdown},
    startup::serve,
};
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::Value;
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

/// Paths the JSON API does not own: the admin panel, the document and its pages, the probes.
fn is_outside_the_api(path: &str) -> bool {
    path == "/admin"
        || path.starts_with("/admin/")
        || path == "/docs"
        || path.starts_with("/docs/")
        || ["/openapi.json", "/metrics", "/healthz", "/readyz"].contains(&path)
}

#[actix_web::test]
async fn the_document_lists_exactly_the_api_routes_actix_serves() {
    let settings = Settings::defaults().unwrap();
    let ops = Operations::new(
        &settings.server,
        Arc::new(Metrics::new(None).unwrap()),
        None,
        Shutdown::new(tokio::runtime::Handle::current()),
    )
    .unwrap();
    let docs = Docs::new().unwrap();
    // The main listener's routes, registered by the function the server registers them with.
    let app = init_service(
        App::new()
            .configure(|cfg| serve(cfg, &ops, &docs))
            .default_service(web::to(actix_web::HttpResponse::NotFound)),
    )
    .await;
    let response = call_service(&app, TestRequest::get().uri("/nowhere").to_request()).await;
    let served = resource_patterns(&format!("{:?}", response.request().resource_map()));
    assert!(
        served.contains("/healthz") && served.contains("/docs/{_:.*}"),
        "the resource map was not read (has actix's Debug output changed?): {served:?}"
    );
    let served: BTreeSet<String> = served
        .into_iter()
        .filter(|path| !is_outside_the_api(path))
        .collect();

    let document = serde_json::to_value(api::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        documented.insert(path.clone());
        for alias in item["x-aliases"].as_array().into_iter().flatten() {
            documented.insert(alias.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(served, documented, "served (left) and documented (right)");
    assert!(documented.contains("/chatView/") && documented.contains("/chatView"));
}

/// Every resource pattern in actix's `ResourceMap` (its `Debug` output, the only view actix
/// gives of it), scopes' prefixes joined to their resources' patterns.
fn resource_patterns(debug: &str) -> BTreeSet<String> {
    let value = debug_value::parse(debug);
    let mut patterns = BTreeSet::new();
    collect_patterns(&value, "", &mut patterns);
    patterns
}

fn collect_patterns(map: &debug_value::Value, prefix: &str, patterns: &mut BTreeSet<String>) {
    use debug_value::Value::*;
    let Struct(fields) = map else { return };
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, v)| v);
    let mut own = Vec::new();
    if let Some(Struct(def)) = field("pattern") {
        match def
            .iter()
            .find(|(key, _)| key == "patterns")
            .map(|(_, v)| v)
        {
            Some(Tuple(kind, values)) if kind == "Single" => own.extend(values.iter()),
            Some(Tuple(kind, values)) if kind == "List" => {
                for list in values {
                    if let List(items) = list {
                        own.extend(items.iter());
                    }
                }
            }
            _ => {}
        }
    }
    let own: Vec<String> = own
        .into_iter()
        .filter_map(|value| match value {
            Str(pattern) => Some(format!("{prefix}{pattern}")),
            _ => None,
        })
        .collect();
    match field("nodes") {
        Some(Tuple(some, nodes)) if some == "Some" => {
            let prefix = own.first().cloned().unwrap_or_else(|| prefix.to_owned());
            for node in nodes {
                if let List(children) = node {
                    for child in children {
                        collect_patterns(child, &prefix, patterns);
                    }
                }
            }
        }
        _ => patterns.extend(own),
    }
}

/// A reader of Rust's `{:?}` output: structs, tuple structs, lists, maps, strings, atoms.
mod debug_value {
    #[derive(Debug)]
    pub enum Value {
        Struct(Vec<(String, Value)>),
        Tuple(String, Vec<Value>),
        List(Vec<Value>),
        /// Maps are read past, not kept: actix lists named resources in them a second time.
        Map,
        Str(String),
        Atom,
    }

    pub fn parse(text: &str) -> Value {
        let chars: Vec<char> = text.chars().collect();
        let mut at = 0;
        value(&chars, &mut at)
    }

    fn skip_space(chars: &[char], at: &mut usize) {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    }

    fn value(chars: &[char], at: &mut usize) -> Value {
        skip_space(chars, at);
        match chars.get(*at) {
            Some('"') => Value::Str(string(chars, at)),
            Some('[') => {
                *at += 1;
                Value::List(items(chars, at, ']', value))
            }
            Some('{') => {
                *at += 1;
                items(chars, at, '}', |chars, at| {
                    value(chars, at);
                    skip_space(chars, at);
                    *at += 1; // ':'
                    value(chars, at);
                });
                Value::Map
            }
            Some('(') => {
                *at += 1;
                Value::Tuple(String::new(), items(chars, at, ')', value))
            }
            _ => {
                let start = *at;
                while chars.get(*at).is_some_and(|c| !"{}[](),: \"".contains(*c)) {
                    *at += 1;
                }
                let name: String = chars[start..*at].iter().collect();
                skip_space(chars, at);
                match chars.get(*at) {
                    Some('{') => {
                        *at += 1;
                        let fields = items(chars, at, '}', |chars, at| {
                            skip_space(chars, at);
                            let start = *at;
                            while chars.get(*at).is_some_and(|c| *c != ':') {
                                *at += 1;
                            }
                            let key: String = chars[start..*at].iter().collect();
                            *at += 1; // ':'
                            (key.trim().to_owned(), value(chars, at))
                        });
                        Value::Struct(fields)
                    }
                    Some('(') => {
                        *at += 1;
                        Value::Tuple(name, items(chars, at, ')', value))
                    }
                    _ => Value::Atom,
                }
            }
        }
    }

    /// Comma-separated items up to `close`, which is consumed.
    fn items<T>(
        chars: &[char],
        at: &mut usize,
        close: char,
        item: impl Fn(&[char], &mut usize) -> T,
    ) -> Vec<T> {
        let mut items = Vec::new();
        loop {
            skip_space(chars, at);
            match chars.get(*at) {
                None => return items,
                Some(c) if *c == close => {
                    *at += 1;
                    return items;
                }
                Some(',') => *at += 1,
                Some(_) => items.push(item(chars, at)),
            }
        }
    }

    fn string(chars: &[char], at: &mut usize) -> String {
        let mut text = String::new();
        *at += 1;
        while let Some(c) = chars.get(*at) {
            *at += 1;
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = chars.get(*at) {
                        text.push(*escaped);
                        *at += 1;
                    }
                }
                c => text.push(*c),
            }
        }
        text
    }
}

#[apply(on_every_backend)]
async fn the_document_and_the_docs_are_served_without_the_network(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["Token"]["type"], "apiKey");
    assert_eq!(schemes["Token"]["name"], "Authorization");
    assert_eq!(schemes["Bearer"]["scheme"], "bearer");
    let chat = &document["paths"]["/chatView/"]["post"];
    assert_eq!(
        chat["security"],
        serde_json::json!([{"Token": []}, {"Bearer": []}])
    );
    assert_eq!(
        chat["responses"]["402"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]
            ["code"]["enum"],
        serde_json::json!(["insufficient_tokens"])
    );

    for (path, allow) in [
        ("/openapi.json", "GET"),
        ("/token_balance/", "GET"),
        ("/api-keys/", "POST, GET"),
    ] {
        let response = app.client.put(app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/docs/");
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "the public validator is never asked: {initializer}"
    );
    // Everything the page loads comes from the server itself.
    let elsewhere: Vec<_> = page
        .split(['"', '\''])
        .filter(|s| s.contains("//"))
        .collect();
    assert!(elsewhere.is_empty(), "the docs page loads {elsewhere:?}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "index.css"] {
        let response = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

/// The schemathesis executable: `CHAT_API_TEST_SCHEMATHESIS`, else `schemathesis` on `PATH`.
fn schemathesis() -> Option<String> {
    if let Ok(path) = std::env::var("CHAT_API_TEST_SCHEMATHESIS") {
        return Some(path);
    }
    let found = Command::new("schemathesis").arg("--version").output();
    found
        .is_ok_and(|output| output.status.success())
        .then(|| "schemathesis".to_owned())
}

/// schemathesis, with every check on, against the live server and the document it serves:
/// every operation, authenticated as a user with a long-lived token and a grant no run spends,
/// a bounded number of examples each (`CHAT_API_TEST_SCHEMATHESIS_EXAMPLES`, default 60; seed
/// `CHAT_API_TEST_SCHEMATHESIS_SEED`, default fixed), then stateful sequences along the
/// document's links. It must find no 5xx, no response that breaks its documented status,
/// headers or schema, no invalid input accepted and no valid input refused (beyond the
/// statuses `schemathesis.toml` allows per operation).
#[apply(on_every_backend)]
async fn schemathesis_finds_nothing_against_the_live_server(backend: Backend) {
    let Some(executable) = schemathesis() else {
        test_support::skip(
            &format!("openapi::schemathesis_finds_nothing_against_the_live_server ({backend:?})"),
            "schemathesis is not installed (set CHAT_API_TEST_SCHEMATHESIS; .ci/run does)",
        );
        return;
    };
    let app = spawn_app_with(
        backend,
        |settings| {
            settings.auth.access_ttl_secs = 24 * 3600;
            settings.ledger.signup_grant = 1_000_000_000;
            // Its sign-ups and logins are many and fast, from one address: throttling would
            // turn most of them into 429s and hide the answers worth checking.
            settings.throttle.signup_per_ip = 1_000_000;
            settings.throttle.login_per_ip = 1_000_000;
            settings.throttle.login_per_username = 1_000_000;
            settings.throttle.login_per_pair = 1_000_000;
        },
        Overrides::default(),
    )
    .await;
    let session = app.signed_up("schemathesis").await;
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| !k.starts_with("x-"))
                .count()
        })
        .sum();

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    let examples =
        std::env::var("CHAT_API_TEST_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "60".into());
    let seed = std::env::var("CHAT_API_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    let workdir = tempfile::tempdir().unwrap();
    let mut command = Command::new(executable);
    command
        .current_dir(workdir.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &app.url("/openapi.json")])
        .args([
            "--header",
            &format!("Authorization: Token {}", session.access),
        ])
        .args(["--checks", "all"])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--request-timeout", "30", "--output-truncate", "false"])
        .env("NO_COLOR", "1");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "schemathesis found problems (above)"
    );
    assert!(
        report.contains(&format!("Selected: {operations}/{operations}"))
            && report.contains(&format!("Tested: {operations}")),
        "every one of the {operations} operations is tested"
    );
    for phase in ["Examples", "Coverage", "Fuzzing", "Stateful"] {
        assert!(
            report.contains(&format!("✅ {phase}")),
            "{phase} ran and passed"
        );
    }
    assert!(
        app.balance(&session.access).await < 1_000_000_000,
        "authenticated chats were answered"
    );
    app.assert_ledger_consistent().await;
}
