//! An identity provider's public keys, as it publishes them (a JWKS), read from a
//! URL or a file. Keys are read again every `refresh_interval`, and when a token
//! names a key id the set does not have (the provider rotated its keys), at most
//! once per `min_refetch_interval` so unknown ids cannot make us hammer the provider.
//! A failed read keeps the keys already known.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A JWKS larger than this is not a key set.
const JWKS_BYTES_MAX: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the key set is: `https://…` (or `http://…`), `file://…`, or a plain path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    Url(String),
    File(PathBuf),
}

impl JwksLocation {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("https://") || text.starts_with("http://") {
            Ok(Self::Url(text.to_owned()))
        } else if let Some(path) = text.strip_prefix("file://") {
            Ok(Self::File(PathBuf::from(path)))
        } else if text.contains("://") {
            Err("must be an https:// URL, a file:// URL or a path".into())
        } else {
            Ok(Self::File(PathBuf::from(text)))
        }
    }
}

#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub location: JwksLocation,
    pub refresh_interval: Duration,
    pub min_refetch_interval: Duration,
}

type Keys = HashMap<String, (Algorithm, Arc<DecodingKey>)>;

struct Loaded {
    keys: Keys,
    /// The last successful read.
    fetched_at: Instant,
    /// The last attempt, successful or not.
    tried_at: Instant,
}

pub struct Jwks {
    settings: JwksSettings,
    http: Option<reqwest::Client>,
    loaded: RwLock<Loaded>,
    /// One read at a time; requests that wait for it then find its keys.
    fetching: tokio::sync::Mutex<()>,
}

impl Jwks {
    /// Reads the set once: a location that gives no usable key stops the start.
    pub async fn load(settings: JwksSettings) -> Result<Self, String> {
        let http = match &settings.location {
            JwksLocation::Url(_) => {
                Some(reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().map_err(|e| format!("HTTP client: {e}"))?)
            }
            JwksLocation::File(_) => None,
        };
        let keys = read(&settings.location, http.as_ref()).await?;
        if keys.is_empty() {
            return Err("the key set has no RS256 or ES256 signing key with a kid".into());
        }
        let now = Instant::now();
        Ok(Self {
            settings,
            http,
            loaded: RwLock::new(Loaded { keys, fetched_at: now, tried_at: now }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The key named `kid`, reading the set again when it is due or the id is new.
    pub async fn key(&self, kid: &str) -> Option<(Algorithm, Arc<DecodingKey>)> {
        if !self.read_due(kid) {
            return self.known(kid);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // A read that finished while this request waited may have brought the key.
        if self.read_due(kid) {
            let result = read(&self.settings.location, self.http.as_ref()).await;
            let mut loaded = self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            loaded.tried_at = Instant::now();
            match result {
                Ok(keys) => {
                    loaded.keys = keys;
                    loaded.fetched_at = loaded.tried_at;
                }
                Err(error) => tracing::warn!(%error, "could not read the JWKS again; the known keys stay in use"),
            }
        }
        self.known(kid)
    }

    fn known(&self, kid: &str) -> Option<(Algorithm, Arc<DecodingKey>)> {
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.keys.get(kid).map(|(algorithm, key)| (*algorithm, key.clone()))
    }

    fn read_due(&self, kid: &str) -> bool {
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stale = loaded.fetched_at.elapsed() >= self.settings.refresh_interval;
        let unknown = !loaded.keys.contains_key(kid);
        (stale || unknown) && loaded.tried_at.elapsed() >= self.settings.min_refetch_interval
    }
}

async fn read(location: &JwksLocation, http: Option<&reqwest::Client>) -> Result<Keys, String> {
    let body = match (location, http) {
        (JwksLocation::File(path), _) => {
            tokio::fs::read(path).await.map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        (JwksLocation::Url(url), Some(http)) => fetch(http, url).await?,
        (JwksLocation::Url(_), None) => return Err("no HTTP client for the JWKS URL".into()),
    };
    if body.len() > JWKS_BYTES_MAX {
        return Err(format!("the key set is larger than {JWKS_BYTES_MAX} bytes"));
    }
    parse(&body)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http.get(url).send().await.map_err(|e| format!("cannot fetch the JWKS: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the JWKS URL answered {status}"));
    }
    Ok(response.bytes().await.map_err(|e| format!("cannot read the JWKS: {e}"))?.to_vec())
}

/// The set's signing keys we accept, by `kid`. Each key is read on its own, so an
/// encryption key or a kind we do not use (the same set often has them) is skipped
/// instead of failing the set. Symmetric keys are never taken from a published set.
fn parse(body: &[u8]) -> Result<Keys, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS ({{\"keys\": [...]}}): {e}"))?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algorithm = accepted_algorithm(&jwk)?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some((kid, (algorithm, Arc::new(key))))
        })
        .collect())
}

/// RS256 for RSA keys, ES256 for P-256 keys; the key's own `alg`, when it names
/// one, must agree. The token's header cannot choose another.
fn accepted_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let (algorithm, named) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => (Algorithm::ES256, KeyAlgorithm::ES256),
        _ => return None,
    };
    jwk.common.key_algorithm.is_none_or(|alg| alg == named).then_some(algorithm)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::EncodingKey;
    use serde_json::json;

    use super::*;

    /// Test-only keys, shared with the service's end-to-end tests.
    const RSA_PEM: &[u8] = include_bytes!("../../../server/tests/fixtures/jwt-rsa-private.pem");
    const EC_PEM: &[u8] = include_bytes!("../../../server/tests/fixtures/jwt-ec-private.pem");

    fn public_jwk(pem: &[u8], algorithm: Algorithm, kid: &str) -> serde_json::Value {
        let key = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            _ => EncodingKey::from_rsa_pem(pem),
        };
        let mut jwk = key.and_then(|key| Jwk::from_encoding_key(&key, algorithm)).map_or(json!({}), |jwk| json!(jwk));
        jwk["kid"] = json!(kid);
        jwk
    }

    #[test]
    fn only_signing_keys_of_rs256_and_es256_with_a_kid_are_taken() {
        let mut encryption = public_jwk(RSA_PEM, Algorithm::RS256, "enc");
        encryption["use"] = json!("enc");
        encryption["alg"] = json!("RSA-OAEP");
        let mut unnamed = public_jwk(RSA_PEM, Algorithm::RS256, "x");
        unnamed.as_object_mut().map(|o| o.remove("kid"));
        let mut rs384 = public_jwk(RSA_PEM, Algorithm::RS256, "rs384");
        rs384["alg"] = json!("RS384");
        let set = json!({"keys": [
            public_jwk(RSA_PEM, Algorithm::RS256, "rsa"),
            public_jwk(EC_PEM, Algorithm::ES256, "ec"),
            encryption,
            unnamed,
            rs384,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let keys = parse(set.to_string().as_bytes()).unwrap_or_default();
        let mut taken: Vec<_> = keys.iter().map(|(kid, (algorithm, _))| (kid.as_str(), *algorithm)).collect();
        taken.sort_by_key(|(kid, _)| *kid);
        assert_eq!(taken, vec![("ec", Algorithm::ES256), ("rsa", Algorithm::RS256)]);
        assert!(parse(b"{\"not\": \"a set\"}").is_err());
    }

    #[test]
    fn locations_are_urls_files_or_paths() {
        assert_eq!(JwksLocation::parse("https://id.example/jwks"), Ok(JwksLocation::Url("https://id.example/jwks".into())));
        assert_eq!(JwksLocation::parse("file:///etc/jwks.json"), Ok(JwksLocation::File("/etc/jwks.json".into())));
        assert_eq!(JwksLocation::parse("keys/jwks.json"), Ok(JwksLocation::File("keys/jwks.json".into())));
        assert!(JwksLocation::parse("ftp://id.example/jwks").is_err());
    }

    #[tokio::test]
    async fn an_unknown_kid_reads_the_file_again_at_most_once_per_interval() {
        let dir = std::env::temp_dir().join(format!("vondi-jwks-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("jwks.json");
        let write = |keys: Vec<serde_json::Value>| std::fs::write(&path, json!({"keys": keys}).to_string()).unwrap_or_default();
        write(vec![public_jwk(RSA_PEM, Algorithm::RS256, "rsa-1")]);
        let settings = |min_refetch_interval| JwksSettings {
            location: JwksLocation::File(path.clone()),
            refresh_interval: Duration::from_secs(3600),
            min_refetch_interval,
        };
        let eager = Jwks::load(settings(Duration::ZERO)).await.map_err(|e| e.to_string());
        let patient = Jwks::load(settings(Duration::from_secs(3600))).await.map_err(|e| e.to_string());
        let always = Jwks::load(JwksSettings { refresh_interval: Duration::ZERO, ..settings(Duration::ZERO) }).await;
        let (Ok(eager), Ok(patient), Ok(always)) = (eager, patient, always) else { unreachable!("the file has a key") };
        assert!(eager.key("rsa-1").await.is_some_and(|(algorithm, _)| algorithm == Algorithm::RS256));
        assert!(eager.key("ec-1").await.is_none());

        // The provider rotates: a new key appears.
        write(vec![public_jwk(RSA_PEM, Algorithm::RS256, "rsa-1"), public_jwk(EC_PEM, Algorithm::ES256, "ec-1")]);
        assert!(eager.key("ec-1").await.is_some_and(|(algorithm, _)| algorithm == Algorithm::ES256));
        assert!(patient.key("ec-1").await.is_none(), "read again too soon");
        assert!(patient.key("rsa-1").await.is_some());

        // Once the refresh interval has passed, a key the provider withdrew is gone.
        write(vec![public_jwk(EC_PEM, Algorithm::ES256, "ec-1")]);
        assert!(always.key("rsa-1").await.is_none(), "withdrawn");
        assert!(eager.key("rsa-1").await.is_some(), "still within its refresh interval");

        // A file that can no longer be read keeps the keys known.
        std::fs::remove_file(&path).unwrap_or_default();
        assert!(eager.key("gone").await.is_none());
        assert!(eager.key("ec-1").await.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
