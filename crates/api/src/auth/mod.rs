//! JWT authentication as an axum middleware in front of the gRPC services: it
//! verifies the bearer token and puts the `Principal` in the request's extensions.
//! `tokens` holds the claim rules and minting, `jwks` an identity provider's keys.

mod jwks;
mod refusal;
mod tokens;

use std::collections::HashSet;
use std::sync::Arc;

use app::{Principal, Role};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey};

pub use jwks::{Jwks, JwksLocation, JwksSettings};
pub use refusal::{TokenProblem, TokenRefusal};
pub use tokens::{Claims, NewToken, TokenRules, mint, mint_hs256};

/// The key tokens are checked with.
#[derive(Clone)]
pub enum VerificationKey {
    /// One key: the HS256 secret, or the RS256 public key of a PEM file.
    Fixed { algorithm: Algorithm, key: Arc<DecodingKey> },
    /// An identity provider's published keys, chosen by the token's `kid`.
    Jwks(Arc<Jwks>),
}

impl VerificationKey {
    pub fn hs256(secret: &[u8]) -> Self {
        Self::Fixed { algorithm: Algorithm::HS256, key: Arc::new(DecodingKey::from_secret(secret)) }
    }

    pub fn rs256_pem(pem: &[u8]) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(Self::Fixed { algorithm: Algorithm::RS256, key: Arc::new(DecodingKey::from_rsa_pem(pem)?) })
    }
}

#[derive(Clone)]
pub struct Authenticator {
    /// `None`: auth disabled (development only), every caller acts as a service.
    key: Option<VerificationKey>,
    rules: Arc<TokenRules>,
    skip_methods: Arc<HashSet<String>>,
}

impl Authenticator {
    pub fn new(key: Option<VerificationKey>, rules: TokenRules, skip_methods: impl IntoIterator<Item = String>) -> Self {
        Self { key, rules: Arc::new(rules), skip_methods: Arc::new(skip_methods.into_iter().collect()) }
    }

    /// Verifies `Bearer <token>` and maps its claims to a principal.
    pub async fn principal(&self, authorization: Option<&str>) -> Result<Principal, TokenRefusal> {
        let Some(key) = &self.key else {
            return Ok(Principal { subject: "anonymous".into(), roles: vec![Role::Service] });
        };
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| TokenRefusal::new(TokenProblem::Missing, "missing authorization: Bearer <JWT>"))?;
        let claims = match key {
            VerificationKey::Fixed { algorithm, key } => self.rules.verify(token, *algorithm, key)?,
            VerificationKey::Jwks(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(|e| tokens::describe(&e))?;
                let kid = header.kid.ok_or_else(|| {
                    TokenRefusal::new(TokenProblem::BadSignature, "invalid token: its header names no key (kid)")
                })?;
                let (algorithm, key) = jwks.key(&kid).await.ok_or_else(|| {
                    TokenRefusal::new(
                        TokenProblem::BadSignature,
                        "invalid token: signed with a key the service does not know (kid)",
                    )
                })?;
                self.rules.verify(token, algorithm, &key)?
            }
        };
        if claims.sub.is_empty() {
            return Err(TokenRefusal::new(TokenProblem::BadClaims, "invalid token: empty sub"));
        }
        let roles = claims
            .roles
            .iter()
            .map(|r| {
                Role::parse(r)
                    .ok_or_else(|| TokenRefusal::new(TokenProblem::BadClaims, format!("invalid token: unknown role '{r}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Principal { subject: claims.sub, roles })
    }

    fn skips(&self, path: &str) -> bool {
        self.skip_methods.contains(path)
    }
}

/// Open whatever `AUTH_SKIP_METHODS` says (SPEC §4).
const HEALTH_CHECK_METHOD: &str = "/payment.v1.PaymentService/HealthCheck";

/// Guards every `payment.v1` gRPC method; reflection and grpc.health stay open so
/// tools can discover the API. A skipped method runs as an anonymous caller with no
/// roles, so it reaches only what needs no role.
pub async fn require_principal(State(auth): State<Authenticator>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !path.starts_with("/payment.v1.") {
        return next.run(request).await;
    }
    if path == HEALTH_CHECK_METHOD || auth.skips(&path) {
        request.extensions_mut().insert(Principal { subject: String::new(), roles: Vec::new() });
    } else {
        let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match auth.principal(header).await {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
            }
            Err(refusal) => {
                return tonic::Status::unauthenticated(refusal.to_string()).into_http::<axum::body::Body>().into_response();
            }
        }
    }
    next.run(request).await
}
