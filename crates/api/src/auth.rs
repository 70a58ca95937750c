//! JWT authentication as an axum middleware in front of the gRPC services: it
//! verifies the bearer token and puts the `Principal` in the request's extensions.

use std::collections::HashSet;
use std::sync::Arc;

use app::{Principal, Role};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// The key tokens are checked with.
#[derive(Clone)]
pub enum VerificationKey {
    Hs256(Arc<Vec<u8>>),
    Rs256(Arc<DecodingKey>),
}

#[derive(Clone)]
pub struct Authenticator {
    /// `None`: auth disabled (development only), every caller acts as a service.
    key: Option<VerificationKey>,
    skip_methods: Arc<HashSet<String>>,
}

impl Authenticator {
    pub fn new(key: Option<VerificationKey>, skip_methods: impl IntoIterator<Item = String>) -> Self {
        Self { key, skip_methods: Arc::new(skip_methods.into_iter().collect()) }
    }

    /// Verifies `Bearer <token>` and maps its claims to a principal.
    pub fn principal(&self, authorization: Option<&str>) -> Result<Principal, String> {
        let Some(key) = &self.key else {
            return Ok(Principal { subject: "anonymous".into(), roles: vec![Role::Service] });
        };
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or("missing authorization: Bearer <JWT>")?;
        let (algorithm, decoding_key) = match key {
            VerificationKey::Hs256(secret) => (Algorithm::HS256, DecodingKey::from_secret(secret)),
            VerificationKey::Rs256(key) => (Algorithm::RS256, (**key).clone()),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims =
            jsonwebtoken::decode::<Claims>(token, &decoding_key, &validation).map_err(|e| format!("invalid token: {e}"))?.claims;
        if claims.sub.is_empty() {
            return Err("invalid token: empty sub".into());
        }
        let roles = claims
            .roles
            .iter()
            .map(|r| Role::parse(r).ok_or_else(|| format!("invalid token: unknown role '{r}'")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Principal { subject: claims.sub, roles })
    }

    fn skips(&self, path: &str) -> bool {
        self.skip_methods.contains(path)
    }
}

/// Signs a development token (the `token` command and tests).
pub fn mint_hs256(
    secret: &[u8],
    subject: &str,
    roles: &[Role],
    ttl: chrono::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now();
    let claims = Claims {
        sub: subject.to_owned(),
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
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
        match auth.principal(header) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
            }
            Err(message) => return tonic::Status::unauthenticated(message).into_http::<axum::body::Body>().into_response(),
        }
    }
    next.run(request).await
}
