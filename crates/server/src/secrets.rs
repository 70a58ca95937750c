//! The JWT verification key: an identity provider's JWKS, the configured public key
//! or secret, or in development a generated secret kept in the data directory so the
//! `token` command and the running service agree on it.

use std::path::PathBuf;
use std::sync::Arc;

use api::{JwksLocation, JwksSettings, TokenRules, VerificationKey};
use jsonwebtoken::{Algorithm, EncodingKey};
use rand::RngCore;

use crate::BoxError;
use crate::config::{Config, Environment};

const DEV_SECRET_FILE: &str = "dev-jwt-secret";

pub async fn verification_key(config: &Config) -> Result<Option<VerificationKey>, BoxError> {
    if !config.auth_enabled {
        tracing::warn!("auth is disabled: every caller acts as a service (development only)");
        return Ok(None);
    }
    if let Some(url) = &config.auth_jwks_url {
        let settings = JwksSettings {
            location: JwksLocation::parse(url).map_err(|e| format!("VONDIPAYMENT_AUTH_JWKS_URL: {e}"))?,
            refresh_interval: config.auth_jwks_refresh_interval,
            min_refetch_interval: config.auth_jwks_min_refetch_interval,
        };
        let jwks = api::Jwks::load(settings).await.map_err(|e| format!("VONDIPAYMENT_AUTH_JWKS_URL: {e}"))?;
        return Ok(Some(VerificationKey::Jwks(Arc::new(jwks))));
    }
    if let Some(path) = &config.auth_jwt_public_key_file {
        let pem = std::fs::read(path)?;
        let key = VerificationKey::rs256_pem(&pem).map_err(|e| format!("VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE: {e}"))?;
        return Ok(Some(key));
    }
    Ok(Some(VerificationKey::hs256(&hs256_secret(config)?)))
}

/// What a token must say besides its signature.
pub fn token_rules(config: &Config) -> TokenRules {
    TokenRules {
        leeway: config.auth_leeway,
        max_lifetime: config.auth_max_token_lifetime,
        issuer: config.auth_issuer.clone(),
        audience: config.auth_audience.clone(),
    }
}

/// Tokens the service checks with a public key are signed elsewhere: the `token`
/// command then needs the private key, and an HS256 token would be refused.
pub fn verifies_public_keys(config: &Config) -> Option<&'static str> {
    if config.auth_jwks_url.is_some() {
        Some("VONDIPAYMENT_AUTH_JWKS_URL")
    } else if config.auth_jwt_public_key_file.is_some() {
        Some("VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE")
    } else {
        None
    }
}

/// A private key for the `token` command: RS256 for RSA, ES256 for P-256.
pub fn signing_key(path: &std::path::Path) -> Result<(Algorithm, EncodingKey), BoxError> {
    let pem = std::fs::read(path).map_err(|e| format!("--private-key {}: {e}", path.display()))?;
    if let Ok(key) = EncodingKey::from_rsa_pem(&pem) {
        return Ok((Algorithm::RS256, key));
    }
    let key = EncodingKey::from_ec_pem(&pem)
        .map_err(|_| format!("--private-key {}: not an RSA or P-256 private key in PEM", path.display()))?;
    Ok((Algorithm::ES256, key))
}

/// The HS256 secret: configured, or (development only) generated once and kept.
pub fn hs256_secret(config: &Config) -> Result<Vec<u8>, BoxError> {
    if !config.auth_jwt_secret.is_empty() {
        return Ok(config.auth_jwt_secret.expose().as_bytes().to_vec());
    }
    if config.env != Environment::Development {
        return Err("VONDIPAYMENT_AUTH_JWT_SECRET is required outside development".into());
    }
    let path = dev_secret_path(config);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    std::fs::create_dir_all(&config.data_dir)?;
    write_private(&path, &secret)?;
    eprintln!(
        "No VONDIPAYMENT_AUTH_JWT_SECRET set: generated a development secret in {}.\n\
         Get a token with:  cargo run -q -- token --sub user-1 --role user",
        path.display()
    );
    Ok(secret.into_bytes())
}

fn dev_secret_path(config: &Config) -> PathBuf {
    config.data_dir.join(DEV_SECRET_FILE)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
