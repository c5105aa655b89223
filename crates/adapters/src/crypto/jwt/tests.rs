use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn issuer() -> JwtIssuer {
    JwtIssuer::new(
        SECRET,
        JwtSettings {
            access_ttl: Duration::from_secs(300),
            refresh_ttl: Duration::from_secs(86_400),
            leeway: Duration::from_secs(5),
        },
    )
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_735_732_800, 0).unwrap()
}

/// User `id` at credentials version 0.
fn subject(id: i64) -> TokenSubject {
    TokenSubject {
        user_id: UserId(id),
        credentials_version: 0,
    }
}

fn signed(header: Header, claims: serde_json::Value, secret: &[u8]) -> String {
    encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn valid_claims() -> serde_json::Value {
    json!({"sub": "1", "exp": now().timestamp() + 60, "iat": now().timestamp(), "jti": Uuid::new_v4().to_string(), "token_type": "access"})
}

#[test]
fn issued_tokens_verify_with_their_claims() {
    let subject = TokenSubject {
        user_id: UserId(42),
        credentials_version: 3,
    };
    let issued = issuer().issue(subject, TokenKind::Refresh, now()).unwrap();
    assert_eq!(issued.claims.credentials_version, 3);
    let claims = issuer()
        .verify(&issued.token, TokenKind::Refresh, now())
        .unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(
        claims.expires_at - claims.issued_at,
        chrono::Duration::days(1)
    );
}

#[test]
fn every_token_has_a_fresh_jti() {
    let a = issuer()
        .issue(subject(1), TokenKind::Access, now())
        .unwrap();
    let b = issuer()
        .issue(subject(1), TokenKind::Access, now())
        .unwrap();
    assert_ne!(a.claims.jti, b.claims.jti);
}

#[test]
fn a_token_of_the_other_kind_is_rejected() {
    let refresh = issuer()
        .issue(subject(1), TokenKind::Refresh, now())
        .unwrap();
    assert_eq!(
        issuer().verify(&refresh.token, TokenKind::Access, now()),
        Err(TokenError::WrongKind)
    );
    let access = issuer()
        .issue(subject(1), TokenKind::Access, now())
        .unwrap();
    assert_eq!(
        issuer().verify(&access.token, TokenKind::Refresh, now()),
        Err(TokenError::WrongKind)
    );
}

#[test]
fn expiry_is_checked_against_the_given_clock_with_leeway() {
    let access = issuer()
        .issue(subject(1), TokenKind::Access, now())
        .unwrap();
    let later = |secs| now() + chrono::Duration::seconds(secs);
    assert!(
        issuer()
            .verify(&access.token, TokenKind::Access, later(304))
            .is_ok()
    );
    assert_eq!(
        issuer().verify(&access.token, TokenKind::Access, later(305)),
        Err(TokenError::Expired)
    );
}

#[test]
fn other_algorithms_and_unsigned_tokens_are_rejected() {
    let hs512 = signed(Header::new(Algorithm::HS512), valid_claims(), SECRET);
    assert_eq!(
        issuer().verify(&hs512, TokenKind::Access, now()),
        Err(TokenError::Malformed)
    );
    // alg "none": header and payload, empty signature.
    let b64 = |v: serde_json::Value| {
        use base64_like::encode_url_safe_no_pad;
        encode_url_safe_no_pad(v.to_string().as_bytes())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(valid_claims())
    );
    assert_eq!(
        issuer().verify(&none, TokenKind::Access, now()),
        Err(TokenError::Malformed)
    );
}

#[test]
fn a_wrong_signature_or_missing_claim_is_rejected() {
    let forged = signed(
        Header::new(Algorithm::HS256),
        valid_claims(),
        b"another-secret-another-secret-00",
    );
    assert_eq!(
        issuer().verify(&forged, TokenKind::Access, now()),
        Err(TokenError::Malformed)
    );
    for missing in ["exp", "sub", "iat", "jti", "token_type"] {
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove(missing);
        let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
        assert!(
            issuer().verify(&token, TokenKind::Access, now()).is_err(),
            "missing {missing}"
        );
    }
    let mut claims = valid_claims();
    claims["sub"] = json!("not-a-number");
    let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
    assert_eq!(
        issuer().verify(&token, TokenKind::Access, now()),
        Err(TokenError::Malformed)
    );
}

#[test]
fn refresh_tokens_start_a_family_and_rotation_carries_it() {
    let first = issuer()
        .issue(subject(3), TokenKind::Refresh, now())
        .unwrap();
    assert_eq!(
        first.claims.family, first.claims.jti,
        "a login starts a family"
    );
    let next = issuer()
        .issue_refresh_in_family(subject(3), first.claims.family, now())
        .unwrap();
    assert_ne!(next.claims.jti, first.claims.jti);
    assert_eq!(next.claims.family, first.claims.family);
    let verified = issuer()
        .verify(&next.token, TokenKind::Refresh, now())
        .unwrap();
    assert_eq!(verified, next.claims);
}

#[test]
fn a_refresh_token_without_a_family_claim_is_its_own_family() {
    let mut claims = valid_claims();
    claims["token_type"] = json!("refresh");
    let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
    let verified = issuer().verify(&token, TokenKind::Refresh, now()).unwrap();
    assert_eq!(verified.family, verified.jti);
    let mut claims = valid_claims();
    claims["fam"] = json!("not-a-uuid");
    let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
    assert_eq!(
        issuer().verify(&token, TokenKind::Access, now()),
        Err(TokenError::Malformed)
    );
}

#[test]
fn a_token_without_a_credentials_version_is_version_zero_and_a_mistyped_one_is_malformed() {
    let verified = issuer()
        .verify(
            &signed(Header::new(Algorithm::HS256), valid_claims(), SECRET),
            TokenKind::Access,
            now(),
        )
        .unwrap();
    assert_eq!(verified.credentials_version, 0);
    for bad in [json!("1"), json!(1.5), json!(null)] {
        let mut claims = valid_claims();
        claims["credentials_version"] = bad.clone();
        let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
        assert_eq!(
            issuer().verify(&token, TokenKind::Access, now()),
            Err(TokenError::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn other_hmac_algorithms_with_the_right_key_are_rejected() {
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = signed(Header::new(algorithm), valid_claims(), SECRET);
        assert_eq!(
            issuer().verify(&token, TokenKind::Access, now()),
            Err(TokenError::Malformed),
            "{algorithm:?}"
        );
    }
}

/// Arbitrary claim values: strings, numbers, nulls, nesting.
fn arbitrary_claim() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(|s| json!(s)),
        Just(json!("access")),
        Just(json!("refresh")),
        Just(json!(Uuid::nil().to_string())),
        Just(json!([1, {"a": null}])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Fuzz: three base64url segments of arbitrary bytes (a JWT's shape) never panic or verify.
    #[test]
    fn arbitrary_segments_never_panic_and_never_verify(
        header in prop::collection::vec(any::<u8>(), 0..80),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        signature in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        use base64_like::encode_url_safe_no_pad as b64;
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        prop_assert!(issuer().verify(&token, TokenKind::Access, now()).is_err());
        prop_assert!(issuer().verify(&token, TokenKind::Refresh, now()).is_err());
    }

    /// Fuzz: correctly signed tokens with arbitrary claim values never panic, and verify only
    /// when every claim is well-formed.
    #[test]
    fn signed_tokens_with_arbitrary_claims_never_panic(
        sub in arbitrary_claim(),
        exp in arbitrary_claim(),
        iat in arbitrary_claim(),
        jti in arbitrary_claim(),
        token_type in arbitrary_claim(),
        fam in arbitrary_claim(),
    ) {
        let claims = json!({"sub": sub, "exp": exp, "iat": iat, "jti": jti, "token_type": token_type, "fam": fam});
        let token = signed(Header::new(Algorithm::HS256), claims, SECRET);
        if let Ok(verified) = issuer().verify(&token, TokenKind::Access, now()) {
            prop_assert_eq!(token_type, json!("access"));
            prop_assert_eq!(sub.as_str().and_then(|s| s.parse::<i64>().ok()), Some(verified.user_id.0));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_and_never_verify(token in ".{0,300}") {
        prop_assert!(issuer().verify(&token, TokenKind::Access, now()).is_err());
    }

    #[test]
    fn tampering_with_any_byte_breaks_the_token(position in 0usize..200, replacement in b'!'..=b'~') {
        let token = issuer().issue(subject(7), TokenKind::Access, now()).unwrap().token;
        let mut bytes = token.clone().into_bytes();
        let position = position % bytes.len();
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let tampered = String::from_utf8(bytes).unwrap();
        // Changing the last base64 char may only touch padding bits; the claims must still be intact then.
        if let Ok(claims) = issuer().verify(&tampered, TokenKind::Access, now()) {
            prop_assert_eq!(claims.user_id, UserId(7));
        }
    }
}

/// Minimal base64url encoder, so the test does not need another dependency.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode_url_safe_no_pad(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}
