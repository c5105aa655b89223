//! HS256 JWTs with simplejwt-style claims (`token_type`, `jti`, `iat`, `exp`), `sub` = user id,
//! `credentials_version` (the account's credentials version when issued), and `fam` (the login
//! session) on refresh tokens, carried across rotations for theft detection.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::UserId;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind,
};
use ports::{Claims, IssuedToken, TokenError, TokenIssuer, TokenKind, TokenSubject};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lifetimes and tolerance of tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Clock skew tolerated when checking `exp`.
    pub leeway: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
    token_type: String,
    /// Family (login session) of a refresh token; absent on access tokens and on refresh tokens
    /// issued before families existed, which then form a family of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
    /// The account's credentials version when the token was issued. Tokens issued before versions
    /// existed lack it and count as version 0, the version every account started with, so the
    /// upgrade logged nobody out.
    #[serde(default)]
    credentials_version: i64,
}

/// Signs and verifies tokens with one HMAC secret. The algorithm is pinned to HS256: a token whose
/// header names any other algorithm (`none` included) is rejected before its signature is read.
pub struct JwtIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: JwtSettings,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// An issuer for `secret`.
    pub fn new(secret: &[u8], settings: JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injected clock in `verify`, not the system clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            settings,
        }
    }

    /// Signs a token; a refresh token starts a new family (its own `jti`) unless `family` is given.
    fn sign(
        &self,
        subject: TokenSubject,
        kind: TokenKind,
        family: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        let ttl = chrono::Duration::from_std(self.ttl(kind))
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        let jti = Uuid::new_v4();
        let family = family.unwrap_or(jti);
        let user_id = subject.user_id;
        let claims = Claims {
            user_id,
            kind,
            jti,
            family,
            credentials_version: subject.credentials_version,
            issued_at: now,
            expires_at: now + ttl,
        };
        let wire = WireClaims {
            sub: user_id.0.to_string(),
            exp: claims.expires_at.timestamp(),
            iat: claims.issued_at.timestamp(),
            jti: claims.jti.to_string(),
            token_type: kind_name(kind).to_owned(),
            fam: (kind == TokenKind::Refresh).then(|| family.to_string()),
            credentials_version: subject.credentials_version,
        };
        let token = encode(&Header::new(Algorithm::HS256), &wire, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken { token, claims })
    }

    fn ttl(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Access => self.settings.access_ttl,
            TokenKind::Refresh => self.settings.refresh_ttl,
        }
    }
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue(
        &self,
        subject: TokenSubject,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        self.sign(subject, kind, None, now)
    }

    fn issue_refresh_in_family(
        &self,
        subject: TokenSubject,
        family: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        self.sign(subject, TokenKind::Refresh, Some(family), now)
    }

    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let wire = decode::<WireClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Malformed,
            })?
            .claims;
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        if wire.exp.saturating_add(leeway) <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        if wire.token_type != kind_name(expected) {
            return Err(TokenError::WrongKind);
        }
        let user_id = wire
            .sub
            .parse()
            .map(UserId)
            .map_err(|_| TokenError::Malformed)?;
        let jti = Uuid::parse_str(&wire.jti).map_err(|_| TokenError::Malformed)?;
        let family = match &wire.fam {
            Some(fam) => Uuid::parse_str(fam).map_err(|_| TokenError::Malformed)?,
            None => jti,
        };
        let timestamp = |secs: i64| {
            Utc.timestamp_opt(secs, 0)
                .single()
                .ok_or(TokenError::Malformed)
        };
        Ok(Claims {
            user_id,
            kind: expected,
            jti,
            family,
            credentials_version: wire.credentials_version,
            issued_at: timestamp(wire.iat)?,
            expires_at: timestamp(wire.exp)?,
        })
    }
}

#[cfg(test)]
mod tests;
