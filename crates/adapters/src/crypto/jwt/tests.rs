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

fn signed(header: Header, claims: serde_json::Value, secret: &[u8]) -> String {
    encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn valid_claims() -> serde_json::Value {
    json!({"sub": "1", "exp": now().timestamp() + 60, "iat": now().timestamp(), "jti": Uuid::new_v4().to_string(), "token_type": "access"})
}

#[test]
fn issued_tokens_verify_with_their_claims() {
    let issued = issuer()
        .issue(UserId(42), TokenKind::Refresh, now())
        .unwrap();
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
    let a = issuer().issue(UserId(1), TokenKind::Access, now()).unwrap();
    let b = issuer().issue(UserId(1), TokenKind::Access, now()).unwrap();
    assert_ne!(a.claims.jti, b.claims.jti);
}

#[test]
fn a_token_of_the_other_kind_is_rejected() {
    let refresh = issuer()
        .issue(UserId(1), TokenKind::Refresh, now())
        .unwrap();
    assert_eq!(
        issuer().verify(&refresh.token, TokenKind::Access, now()),
        Err(TokenError::WrongKind)
    );
    let access = issuer().issue(UserId(1), TokenKind::Access, now()).unwrap();
    assert_eq!(
        issuer().verify(&access.token, TokenKind::Refresh, now()),
        Err(TokenError::WrongKind)
    );
}

#[test]
fn expiry_is_checked_against_the_given_clock_with_leeway() {
    let access = issuer().issue(UserId(1), TokenKind::Access, now()).unwrap();
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic_and_never_verify(token in ".{0,300}") {
        prop_assert!(issuer().verify(&token, TokenKind::Access, now()).is_err());
    }

    #[test]
    fn tampering_with_any_byte_breaks_the_token(position in 0usize..200, replacement in b'!'..=b'~') {
        let token = issuer().issue(UserId(7), TokenKind::Access, now()).unwrap().token;
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
