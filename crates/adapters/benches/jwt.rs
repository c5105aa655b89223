//! Access-token verification, which every authenticated request pays before touching storage:
//! HS256 over the header and claims, then the claim checks of `JwtIssuer::verify`.

use std::{hint::black_box, time::Duration};

use adapters::crypto::{JwtIssuer, JwtSettings};
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use domain::UserId;
use ports::{TokenIssuer, TokenKind, TokenSubject};

fn verify(c: &mut Criterion) {
    let issuer = JwtIssuer::new(
        b"benchmark-secret-benchmark-secret-00",
        JwtSettings {
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(86_400),
            leeway: Duration::from_secs(5),
        },
    );
    let now = Utc::now();
    let subject = TokenSubject {
        user_id: UserId(42),
        credentials_version: 1,
    };
    let Ok(issued) = issuer.issue(subject, TokenKind::Access, now) else {
        panic!("the benchmark's token could not be signed");
    };
    // One signature character changed (not the last, whose low bits base64 leaves unused).
    let mut forged = issued.token.clone().into_bytes();
    let middle = forged.len() - 10;
    forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8_lossy(&forged).into_owned();

    c.bench_function("JwtIssuer::verify, a valid access token", |b| {
        b.iter(|| issuer.verify(black_box(&issued.token), TokenKind::Access, now))
    });
    c.bench_function("JwtIssuer::verify, a bad signature", |b| {
        b.iter(|| issuer.verify(black_box(&forged), TokenKind::Access, now))
    });
    c.bench_function("JwtIssuer::issue, an access token", |b| {
        b.iter(|| issuer.issue(black_box(subject), TokenKind::Access, now))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
