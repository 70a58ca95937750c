//! Keys an identity provider publishes (a JWKS), from a file and from a URL, with
//! RS256 and ES256 tokens signed by test keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use api::NewToken;
use app::Role;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::auth::{fixture, lists_payments};
use crate::helpers::{Db, spawn_app_with, test_config, token};
use crate::on_both_databases;

on_both_databases!(rs256_and_es256_tokens_are_checked_with_a_jwks_file, a_jwks_url_is_read_again_for_a_new_key_id);

/// A test key: how it signs, and its public half as a JWK named `kid`.
struct TestKey {
    algorithm: Algorithm,
    private: EncodingKey,
    kid: &'static str,
}

impl TestKey {
    fn rsa(kid: &'static str) -> Self {
        let pem = std::fs::read(fixture("jwt-rsa-private.pem")).expect("fixture");
        Self { algorithm: Algorithm::RS256, private: EncodingKey::from_rsa_pem(&pem).expect("RSA key"), kid }
    }

    fn ec(kid: &'static str) -> Self {
        let pem = std::fs::read(fixture("jwt-ec-private.pem")).expect("fixture");
        Self { algorithm: Algorithm::ES256, private: EncodingKey::from_ec_pem(&pem).expect("EC key"), kid }
    }

    fn public_jwk(&self) -> serde_json::Value {
        let mut jwk = json!(Jwk::from_encoding_key(&self.private, self.algorithm).expect("public JWK"));
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk
    }

    /// A user-1 token signed with this key, naming `kid` in its header.
    fn token(&self, kid: &str) -> String {
        let token = NewToken {
            subject: "user-1",
            roles: &[Role::User],
            ttl: chrono::Duration::hours(1),
            issuer: None,
            audience: None,
            key_id: Some(kid),
        };
        api::mint(&token, self.algorithm, &self.private).expect("token")
    }
}

fn key_set(keys: &[&TestKey]) -> serde_json::Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

async fn rs256_and_es256_tokens_are_checked_with_a_jwks_file(db: Db) {
    let (rsa, ec) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"));
    let dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("jwks.json");
    std::fs::write(&path, key_set(&[&rsa, &ec]).to_string()).expect("write");
    let app = spawn_app_with(db, &[("AUTH_JWKS_URL", &format!("file://{}", path.display()))]).await;

    assert_eq!(lists_payments(&app, &rsa.token("rsa-1")).await, Ok(()), "RS256");
    assert_eq!(lists_payments(&app, &ec.token("ec-1")).await, Ok(()), "ES256");
    // The key decides the algorithm, not the token's header: the RSA key's public
    // half used as an HMAC secret (the old confusion attack) gets nowhere.
    let public_pem = std::fs::read(fixture("jwt-rsa-public.pem")).expect("fixture");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let claims = json!({"sub": "user-1", "roles": ["admin"], "exp": crate::helpers::now() + 60});
    let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public_pem)).expect("token");
    for (case, token, named) in [
        ("HS256 with the RSA key's kid", confused, "algorithm"),
        ("signed by the RSA key, named as the EC key", rsa.token("ec-1"), "algorithm"),
        ("an unknown kid", rsa.token("rsa-2"), "kid"),
        ("no kid (the HS256 secret)", token("user-1", &[Role::User]), "kid"),
    ] {
        let refused = lists_payments(&app, &token).await.expect_err(case);
        assert!(refused.contains(named), "{case}: '{refused}' should name {named}");
    }
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in identity provider: serves its current key set and counts the reads.
struct Provider {
    url: String,
    keys: Arc<Mutex<serde_json::Value>>,
    reads: Arc<AtomicUsize>,
}

async fn provider(keys: serde_json::Value) -> Provider {
    let keys = Arc::new(Mutex::new(keys));
    let reads = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (keys.clone(), reads.clone());
    let routes = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = served.lock().expect("keys").clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, routes).await });
    Provider { url, keys, reads }
}

async fn a_jwks_url_is_read_again_for_a_new_key_id(db: Db) {
    let (rsa, ec) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"));
    let idp = provider(key_set(&[&rsa])).await;
    let app = spawn_app_with(db, &[("AUTH_JWKS_URL", &idp.url), ("AUTH_JWKS_MIN_REFETCH_INTERVAL", "0s")]).await;
    let reads = || idp.reads.load(Ordering::SeqCst);
    assert_eq!(reads(), 1, "read once at start");
    assert_eq!(lists_payments(&app, &rsa.token("rsa-1")).await, Ok(()));
    assert_eq!(lists_payments(&app, &rsa.token("rsa-1")).await, Ok(()));
    assert_eq!(reads(), 1, "a known key is not read again before AUTH_JWKS_REFRESH_INTERVAL");
    assert!(lists_payments(&app, &ec.token("ec-1")).await.is_err(), "not published yet");
    assert_eq!(reads(), 2, "an unknown kid reads the set again");

    // The provider rotates in its EC key: the next token that names it is accepted.
    *idp.keys.lock().expect("keys") = key_set(&[&rsa, &ec]);
    assert_eq!(lists_payments(&app, &ec.token("ec-1")).await, Ok(()));
    assert_eq!(reads(), 3);

    // A key set that cannot be read stops the start, naming the setting.
    let missing = format!("{}-missing", idp.url);
    let config = test_config(&app.db_url, &app.data_dir, &[("AUTH_JWKS_URL", &missing)]);
    let error = server::start(config).await.err().expect("no start without keys").to_string();
    assert!(error.contains("VONDIPAYMENT_AUTH_JWKS_URL") && error.contains("404"), "{error}");
    app.stop().await;
}
