//! HTTP integration tests: the real service on a real socket, a fresh database per test, every
//! storage-touching test on both backends (`#[apply(on_every_backend)]`, see
//! `test_support::on_every_backend`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod binary;
mod helpers;

mod admin;
mod admin_browser;
mod api_keys;
mod bad_input;
mod completions;
mod concurrency;
mod history;
mod idempotency;
mod kit;
mod openai_compat;
mod openai_streaming;
mod openai_upstream;
mod operations;
mod pricing;
mod problem_snapshots;
mod processes;
mod python_sdk;
mod responder_failures;
mod restart;
mod security;
mod seed_flow;
mod sse;
mod streaming;
