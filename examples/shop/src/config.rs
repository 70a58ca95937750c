//! The shop's settings, from `SHOP_*` variables; a wrong value names its variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::ShopError;

pub const PREFIX: &str = "SHOP_";

/// How the shop proves to the service that it is the platform.
#[derive(Clone)]
pub enum Credentials {
    /// A token minted elsewhere (`vondipayment token --role service --role admin`).
    Token(String),
    /// The service's HS256 secret: the shop mints a short token per call, as a
    /// platform backend that shares the secret would.
    Secret(Vec<u8>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::Token(_) => "Token(***)",
            Credentials::Secret(_) => "Secret(***)",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    /// 0 = any free port.
    pub port: u16,
    /// Where browsers reach the shop (the gateway sends buyers back here);
    /// default `http://localhost:{port}`.
    pub public_url: Option<String>,
    /// The service's gRPC endpoint.
    pub service_url: String,
    pub credentials: Credentials,
    /// The catalogue: the demo data file the service loaded.
    pub catalogue_path: PathBuf,
}

impl Config {
    pub fn from_env() -> Result<Self, ShopError> {
        Self::from_vars(&std::env::vars().filter(|(k, _)| k.starts_with(PREFIX)).collect())
    }

    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ShopError> {
        let get = |name: &str| vars.get(&format!("{PREFIX}{name}")).map(|v| v.trim()).filter(|v| !v.is_empty());
        let invalid = |name: &str, problem: String| ShopError::Config(format!("{PREFIX}{name}: {problem}"));
        let port = match get("PORT") {
            None => 30080,
            Some(text) => text.parse().map_err(|_| invalid("PORT", format!("'{text}' is not a port number (0-65535)")))?,
        };
        let public_url = get("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("PUBLIC_URL", "must start with http:// or https://".into()));
        }
        let service_url = get("SERVICE_URL").unwrap_or("http://localhost:30051").to_owned();
        if !(service_url.starts_with("http://") || service_url.starts_with("https://")) {
            return Err(invalid("SERVICE_URL", "must start with http:// or https://".into()));
        }
        let credentials = match (get("SERVICE_TOKEN"), get("JWT_SECRET")) {
            (Some(_), Some(_)) => return Err(invalid("SERVICE_TOKEN", "set either it or SHOP_JWT_SECRET, not both".into())),
            (Some(token), None) => Credentials::Token(token.to_owned()),
            (None, Some(secret)) => Credentials::Secret(secret.as_bytes().to_vec()),
            (None, None) => {
                let path = PathBuf::from(get("JWT_SECRET_FILE").unwrap_or("data/dev-jwt-secret"));
                let secret = std::fs::read_to_string(&path).map_err(|e| {
                    invalid(
                        "JWT_SECRET_FILE",
                        format!(
                            "cannot read {} ({e}): start the service first (it writes its development secret there), \
                             or set SHOP_SERVICE_TOKEN or SHOP_JWT_SECRET",
                            path.display()
                        ),
                    )
                })?;
                Credentials::Secret(secret.trim().as_bytes().to_vec())
            }
        };
        Ok(Self {
            host: get("HOST").unwrap_or("127.0.0.1").to_owned(),
            port,
            public_url,
            service_url,
            credentials,
            catalogue_path: PathBuf::from(get("CATALOGUE_PATH").unwrap_or("fixtures/demo.json")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ShopError> {
        Config::from_vars(&pairs.iter().map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned())).collect())
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        config(pairs).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn wrong_values_name_their_variable_and_secrets_do_not_print() {
        assert!(error(&[("JWT_SECRET", "s"), ("PORT", "70000")]).contains("SHOP_PORT"));
        assert!(error(&[("JWT_SECRET", "s"), ("SERVICE_URL", "localhost:1")]).contains("SHOP_SERVICE_URL"));
        assert!(error(&[("JWT_SECRET", "s"), ("SERVICE_TOKEN", "t")]).contains("not both"));
        let missing = error(&[("JWT_SECRET_FILE", "/no/such/secret")]);
        assert!(missing.contains("SHOP_JWT_SECRET_FILE") && missing.contains("start the service first"), "{missing}");
        let read = config(&[("JWT_SECRET", "hunter2-secret")]).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((read.port, read.service_url.as_str()), (30080, "http://localhost:30051"));
        assert!(!format!("{read:?}").contains("hunter2"));
    }
}
