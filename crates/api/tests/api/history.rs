//! `GET /chats/` and `GET /statement/` over real HTTP, on both backends: only the caller's own
//! records, in order, DRF-style pages with absolute links, window boundaries, bounds.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use test_support::{Backend, on_every_backend};

use crate::helpers::*;

async fn ok_json(app: &TestApp, url: &str, credential: &str) -> Value {
    let response = app
        .client
        .get(url)
        .bearer_auth(credential)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json().await.unwrap()
}

#[apply(on_every_backend)]
async fn history_is_the_callers_own_chats_newest_first_in_linked_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    for n in 1..=5 {
        assert_eq!(
            app.chat(&alice.access, &format!("alice {n}"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.chat(&bob.access, "bob's secret").await.status(),
        StatusCode::OK
    );

    let first = app.url("/chats/?page_size=2");
    let mut url = first.clone();
    let mut messages = Vec::new();
    for number in 1.. {
        let page = ok_json(&app, &url, &alice.access).await;
        assert_eq!(page["count"], 5);
        match number {
            1 => assert_eq!(page["previous"], Value::Null),
            2 => assert_eq!(
                page["previous"].as_str(),
                Some(first.as_str()),
                "DRF drops page=1"
            ),
            _ => assert!(
                page["previous"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("page=2"))
            ),
        }
        for chat in page["results"].as_array().unwrap() {
            assert!(chat["id"].as_i64().is_some() && chat["timestamp"].as_str().is_some());
            assert!(chat["response"].as_str().is_some_and(|r| !r.is_empty()));
            assert_eq!(
                (&chat["tokens_charged"], &chat["status"]),
                (&json!(100), &json!("completed"))
            );
            messages.push(chat["message"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&app.address), "absolute: {next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(
        messages,
        ["alice 5", "alice 4", "alice 3", "alice 2", "alice 1"]
    );
    let bobs = ok_json(&app, &app.url("/chats/"), &bob.access).await;
    assert_eq!(bobs["count"], 1);
    assert_eq!(bobs["results"][0]["message"], "bob's secret");
    assert_eq!(
        (bobs["next"].clone(), bobs["previous"].clone()),
        (Value::Null, Value::Null)
    );
}

#[apply(on_every_backend)]
async fn history_pages_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("pager").await;
    assert_eq!(
        app.chat(&session.access, "one").await.status(),
        StatusCode::OK
    );
    let full = ok_json(&app, &app.url("/chats/?page_size=100"), &session.access).await;
    assert_eq!(full["results"].as_array().unwrap().len(), 1);
    for size in ["101", "0", "-1", "ten"] {
        assert_problem(
            app.get(&format!("/chats/?page_size={size}"), &session.access)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    for page in ["2", "0", "x", "99999999999999999999"] {
        assert_problem(
            app.get(&format!("/chats/?page={page}"), &session.access)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let empty = app.signed_up("nobody").await;
    let page = ok_json(&app, &app.url("/chats/?page=1"), &empty.access).await;
    assert_eq!(
        (page["count"].clone(), page["results"].clone()),
        (0.into(), Value::Array(vec![]))
    );
    assert_problem(
        app.client.get(app.url("/chats/")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    )
    .await;
}

/// The statement with `query` (already URL-encoded).
async fn statement(app: &TestApp, credential: &str, query: &str) -> Value {
    ok_json(app, &app.url(&format!("/statement/?{query}")), credential).await
}

fn amounts(statement: &Value) -> Vec<i64> {
    statement["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .collect()
}

fn balance_identity_holds(statement: &Value) {
    let sum: i64 = amounts(statement).iter().sum();
    assert_eq!(
        statement["opening_balance"].as_i64().unwrap() + sum,
        statement["closing_balance"].as_i64().unwrap(),
        "{statement}"
    );
}

fn encoded(at: &Value) -> String {
    at.as_str().unwrap().replace(':', "%3A").replace('+', "%2B")
}

#[apply(on_every_backend)]
async fn a_statement_covers_from_inclusive_to_exclusive_and_adds_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("saver").await;
    let other = app.signed_up("other").await;
    for message in ["one", "two", "three"] {
        assert_eq!(
            app.chat(&session.access, message).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.chat(&other.access, "not mine").await.status(),
        StatusCode::OK
    );

    let whole = statement(&app, &session.access, "").await;
    assert_eq!(whole["opening_balance"], 0, "from the account's creation");
    assert_eq!(whole["closing_balance"], app.balance(&session.access).await);
    assert_eq!(amounts(&whole), [4000, -100, -100, -100]);
    balance_identity_holds(&whole);
    let entries = whole["entries"].as_array().unwrap();
    assert_eq!(entries[0]["kind"], "signup_grant");
    assert!(
        entries[1..]
            .iter()
            .all(|e| e["kind"] == "chat_debit" && e["chat_id"].is_i64())
    );
    let chats = ok_json(&app, &app.url("/chats/"), &session.access).await;
    assert_eq!(
        entries[3]["chat_id"], chats["results"][0]["id"],
        "the newest chat"
    );

    let second_at = &entries[2]["at"];
    let from_second = statement(
        &app,
        &session.access,
        &format!("from={}", encoded(second_at)),
    )
    .await;
    assert_eq!(amounts(&from_second), [-100, -100], "from is inclusive");
    assert_eq!(from_second["opening_balance"], 3900);
    balance_identity_holds(&from_second);
    let to_second = statement(&app, &session.access, &format!("to={}", encoded(second_at))).await;
    assert_eq!(amounts(&to_second), [4000, -100], "to is exclusive");
    assert_eq!(to_second["closing_balance"], from_second["opening_balance"]);
    let nothing = statement(
        &app,
        &session.access,
        &format!("from={0}&to={0}", encoded(second_at)),
    )
    .await;
    assert_eq!(amounts(&nothing), Vec::<i64>::new());
    assert_eq!(nothing["opening_balance"], nothing["closing_balance"]);
}

#[apply(on_every_backend)]
async fn statement_pages_chain_their_balances_and_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.signed_up("paged").await;
    for n in 0..4 {
        assert_eq!(
            app.chat(&session.access, &format!("m{n}")).await.status(),
            StatusCode::OK
        );
    }
    let whole = statement(&app, &session.access, "").await;
    let mut url = app.url("/statement/?page_size=2");
    let mut opening = 0;
    let mut seen = Vec::new();
    loop {
        let page = ok_json(&app, &url, &session.access).await;
        assert_eq!(page["count"], 5);
        assert_eq!(page["opening_balance"], opening, "{page}");
        balance_identity_holds(&page);
        opening = page["closing_balance"].as_i64().unwrap();
        seen.extend(amounts(&page));
        match page["next"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("from=") && next.contains("to="),
                    "pinned: {next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, amounts(&whole));
    assert_eq!(opening, app.balance(&session.access).await);
    for (query, status, code) in [
        ("page_size=1001", StatusCode::BAD_REQUEST, "invalid_request"),
        ("from=yesterday", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "to=2025-02-30T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("page=4&page_size=2", StatusCode::NOT_FOUND, "not_found"),
    ] {
        assert_problem(
            app.get(&format!("/statement/?{query}"), &session.access)
                .await,
            status,
            code,
        )
        .await;
    }
}
