//! What a token must say to be accepted, and minting for the `token` command and tests.

use std::time::Duration;

use app::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::refusal::{TokenProblem, TokenRefusal};

/// The claims the service reads. `iss` and `aud` are checked by the library.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
}

/// The checks beyond the signature (settings `AUTH_LEEWAY`, `AUTH_MAX_TOKEN_LIFETIME`,
/// `AUTH_ISSUER`, `AUTH_AUDIENCE`).
#[derive(Debug, Clone)]
pub struct TokenRules {
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The longest `exp - iat` (or `exp - now` without `iat`): a stolen token is
    /// worth little for long.
    pub max_lifetime: Duration,
    /// When set, `iss` is required and must be this.
    pub issuer: Option<String>,
    /// When set, `aud` is required and must contain this; otherwise `aud` is not read.
    pub audience: Option<String>,
}

impl Default for TokenRules {
    fn default() -> Self {
        Self { leeway: Duration::from_secs(30), max_lifetime: Duration::from_secs(24 * 3600), issuer: None, audience: None }
    }
}

impl TokenRules {
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Signature, algorithm, `exp`, `nbf`, `iss`, `aud`, then the lifetime.
    pub fn verify(&self, token: &str, algorithm: Algorithm, key: &DecodingKey) -> Result<Claims, TokenRefusal> {
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation(algorithm)).map_err(|e| describe(&e))?.claims;
        self.check_lifetime(&claims, chrono::Utc::now().timestamp())?;
        Ok(claims)
    }

    fn check_lifetime(&self, claims: &Claims, now: i64) -> Result<(), TokenRefusal> {
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let max = i64::try_from(self.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if claims.iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(TokenRefusal::new(TokenProblem::NotYetValid, "invalid token: issued in the future (iat)"));
        }
        if claims.exp.saturating_sub(claims.iat.unwrap_or(now)) > max {
            return Err(TokenRefusal::new(
                TokenProblem::BadClaims,
                format!(
                    "invalid token: valid for longer than the service accepts ({}; exp - iat)",
                    humantime::format_duration(self.max_lifetime)
                ),
            ));
        }
        Ok(())
    }
}

/// A message a client can act on; never the token itself.
pub(super) fn describe(error: &jsonwebtoken::errors::Error) -> TokenRefusal {
    let (problem, what) = match error.kind() {
        ErrorKind::ExpiredSignature => (TokenProblem::Expired, "expired (exp)".to_owned()),
        ErrorKind::ImmatureSignature => (TokenProblem::NotYetValid, "not valid yet (nbf)".to_owned()),
        ErrorKind::InvalidIssuer => (TokenProblem::WrongIssuer, "wrong issuer (iss)".to_owned()),
        ErrorKind::InvalidAudience => (TokenProblem::WrongIssuer, "wrong audience (aud)".to_owned()),
        ErrorKind::MissingRequiredClaim(claim) => (TokenProblem::BadClaims, format!("missing claim {claim}")),
        ErrorKind::InvalidSignature => (TokenProblem::BadSignature, "bad signature".to_owned()),
        ErrorKind::InvalidAlgorithm => (TokenProblem::BadSignature, "algorithm not accepted".to_owned()),
        _ => (TokenProblem::Malformed, error.to_string()),
    };
    TokenRefusal::new(problem, format!("invalid token: {what}"))
}

/// What a minted token says.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub subject: &'a str,
    pub roles: &'a [Role],
    pub ttl: chrono::Duration,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    /// The `kid` header, for a service that reads keys from a JWKS.
    pub key_id: Option<&'a str>,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    roles: Vec<&'static str>,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Signs a token with `key` (the `token` command and tests).
pub fn mint(token: &NewToken<'_>, algorithm: Algorithm, key: &EncodingKey) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now();
    let claims = MintedClaims {
        sub: token.subject,
        roles: token.roles.iter().map(Role::as_str).collect(),
        exp: (now + token.ttl).timestamp(),
        iat: now.timestamp(),
        iss: token.issuer,
        aud: token.audience,
    };
    let mut header = Header::new(algorithm);
    header.kid = token.key_id.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, key)
}

/// Signs a development HS256 token.
pub fn mint_hs256(
    secret: &[u8],
    subject: &str,
    roles: &[Role],
    ttl: chrono::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let token = NewToken { subject, roles, ttl, issuer: None, audience: None, key_id: None };
    mint(&token, Algorithm::HS256, &EncodingKey::from_secret(secret))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"unit-test-secret";

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET)).unwrap_or_default()
    }

    fn check(rules: &TokenRules, claims: serde_json::Value) -> Result<Claims, String> {
        rules.verify(&signed(claims), Algorithm::HS256, &DecodingKey::from_secret(SECRET)).map_err(|e| e.to_string())
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let rules = TokenRules::default();
        let later = check(&rules, json!({"sub": "u", "exp": now() + 6 * 86_400, "iat": now(), "nbf": now() + 5 * 86_400}));
        assert_eq!(later.map(|c| c.sub), Err("invalid token: not valid yet (nbf)".into()));
        assert!(check(&rules, json!({"sub": "u", "exp": now() + 60, "nbf": now() + 10})).is_ok(), "within the leeway");
    }

    #[test]
    fn the_leeway_is_the_setting() {
        let expired = json!({"sub": "u", "exp": now() - 20, "iat": now() - 100});
        assert!(check(&TokenRules::default(), expired.clone()).is_ok(), "20 s late, 30 s leeway");
        let strict = TokenRules { leeway: Duration::from_secs(5), ..TokenRules::default() };
        assert_eq!(check(&strict, expired).map(|c| c.sub), Err("invalid token: expired (exp)".into()));
        let late = json!({"sub": "u", "exp": now() - 45, "iat": now() - 100});
        assert!(check(&TokenRules::default(), late).is_err(), "the library's 60 s are not used");
    }

    #[test]
    fn a_token_living_longer_than_the_maximum_is_refused() {
        let rules = TokenRules::default();
        let day = 86_400;
        assert!(check(&rules, json!({"sub": "u", "iat": now(), "exp": now() + day})).is_ok(), "exactly the maximum");
        let long = check(&rules, json!({"sub": "u", "iat": now(), "exp": now() + day + 1}));
        assert!(long.is_err_and(|e| e.contains("longer")));
        let no_iat = check(&rules, json!({"sub": "u", "exp": now() + 365 * day}));
        assert!(no_iat.is_err_and(|e| e.contains("longer")), "without iat, exp - now counts");
        let old_iat = check(&rules, json!({"sub": "u", "iat": now() - 2 * day, "exp": now() + 60}));
        assert!(old_iat.is_err(), "issued two days ago for more than a day");
        let future = check(&rules, json!({"sub": "u", "iat": now() + 3600, "exp": now() + 7200}));
        assert_eq!(future.map(|c| c.sub), Err("invalid token: issued in the future (iat)".into()));
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let open = TokenRules::default();
        assert!(check(&open, json!({"sub": "u", "exp": now() + 60, "aud": ["x", "y"], "iss": "anyone"})).is_ok());
        let rules =
            TokenRules { issuer: Some("https://id.example".into()), audience: Some("payments".into()), ..TokenRules::default() };
        let base = |iss: Option<&str>, aud: Option<serde_json::Value>| {
            let mut claims = json!({"sub": "u", "exp": now() + 60});
            if let Some(iss) = iss {
                claims["iss"] = json!(iss);
            }
            if let Some(aud) = aud {
                claims["aud"] = aud;
            }
            check(&rules, claims).map(|c| c.sub)
        };
        assert_eq!(base(Some("https://id.example"), Some(json!("payments"))), Ok("u".into()));
        assert_eq!(base(Some("https://id.example"), Some(json!(["payments", "other"]))), Ok("u".into()));
        assert_eq!(base(Some("https://evil.example"), Some(json!("payments"))), Err("invalid token: wrong issuer (iss)".into()));
        assert_eq!(base(Some("https://id.example"), Some(json!("other"))), Err("invalid token: wrong audience (aud)".into()));
        assert_eq!(base(None, Some(json!("payments"))), Err("invalid token: missing claim iss".into()));
        assert_eq!(base(Some("https://id.example"), None), Err("invalid token: missing claim aud".into()));
    }

    #[test]
    fn minted_tokens_pass_the_default_rules_with_their_issuer_and_audience() {
        let token = NewToken {
            subject: "user-1",
            roles: &[Role::User],
            ttl: chrono::Duration::hours(24),
            issuer: Some("dev"),
            audience: Some("payments"),
            key_id: Some("k1"),
        };
        let minted = mint(&token, Algorithm::HS256, &EncodingKey::from_secret(SECRET)).unwrap_or_default();
        let rules = TokenRules { issuer: Some("dev".into()), audience: Some("payments".into()), ..TokenRules::default() };
        let claims = rules.verify(&minted, Algorithm::HS256, &DecodingKey::from_secret(SECRET));
        assert_eq!(claims.map(|c| (c.sub, c.roles)), Ok(("user-1".into(), vec!["user".into()])));
        assert_eq!(jsonwebtoken::decode_header(&minted).map(|h| h.kid), Ok(Some("k1".into())));
    }
}
