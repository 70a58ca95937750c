//! The JWT verification key: the configured secret or public key, or in development
//! a generated secret kept in the data directory so the `token` command and the
//! running service agree on it.

use std::path::PathBuf;
use std::sync::Arc;

use api::VerificationKey;
use rand::RngCore;

use crate::BoxError;
use crate::config::{Config, Environment};

const DEV_SECRET_FILE: &str = "dev-jwt-secret";

pub fn verification_key(config: &Config) -> Result<Option<VerificationKey>, BoxError> {
    if !config.auth_enabled {
        tracing::warn!("auth is disabled: every caller acts as a service (development only)");
        return Ok(None);
    }
    if let Some(path) = &config.auth_jwt_public_key_file {
        let pem = std::fs::read(path)?;
        let key =
            jsonwebtoken::DecodingKey::from_rsa_pem(&pem).map_err(|e| format!("VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE: {e}"))?;
        return Ok(Some(VerificationKey::Rs256(Arc::new(key))));
    }
    Ok(Some(VerificationKey::Hs256(Arc::new(hs256_secret(config)?))))
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
