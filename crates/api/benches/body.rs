//! Request-body parsing, paid by every chat, login and register: `FormOrJson::parse` on the
//! bodies those endpoints get, then reading the fields the handlers read.

use std::hint::black_box;

use api::extract::FormOrJson;
use criterion::{Criterion, criterion_group, criterion_main};

const CHAT_JSON: &[u8] = br#"{"message": "Hello, how are you?"}"#;
const LOGIN_JSON: &[u8] = br#"{"username": "bench_17", "password": "bench-password-17"}"#;
const LOGIN_FORM: &[u8] = b"username=bench_17&password=bench-password-17";

fn parse(c: &mut Criterion) {
    c.bench_function("FormOrJson: a chat message (JSON)", |b| {
        b.iter(|| {
            FormOrJson::parse("application/json", black_box(CHAT_JSON))
                .and_then(|body| body.required_strings(["message"]))
        })
    });
    c.bench_function("FormOrJson: login credentials (JSON)", |b| {
        b.iter(|| {
            FormOrJson::parse("application/json", black_box(LOGIN_JSON))
                .and_then(|body| body.required_strings(["username", "password"]))
        })
    });
    c.bench_function("FormOrJson: login credentials (form)", |b| {
        b.iter(|| {
            FormOrJson::parse("application/x-www-form-urlencoded", black_box(LOGIN_FORM))
                .and_then(|body| body.required_strings(["username", "password"]))
        })
    });
    let long = format!(r#"{{"message": "{}"}}"#, "x".repeat(4000));
    c.bench_function("FormOrJson: a 4000-character message (JSON)", |b| {
        b.iter(|| {
            FormOrJson::parse("application/json", black_box(long.as_bytes()))
                .and_then(|body| body.required_strings(["message"]))
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);
