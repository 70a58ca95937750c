//! A small signed client for the fake, so that each test reads like its scenario.

use std::time::Duration;

use fake_ixopay::{FakeIxopay, FakeIxopayConfig, http_date, sign};
use serde_json::{Value, json};

pub const API_KEY: &str = "my-api-key";
pub const USERNAME: &str = "api-user";
pub const PASSWORD: &str = "api-password";
pub const SECRET: &str = "my-shared-secret";
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
pub const CALLBACK_URL: &str = "https://shop.test/hooks/allsecure?source=fake";

/// What came back: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn error_code(&self) -> Option<i64> {
        self.body["errorCode"].as_i64().or_else(|| self.body["errors"][0]["errorCode"].as_i64())
    }
}

/// How one call is made; `call()` is the well-behaved default.
#[derive(Debug, Clone)]
pub struct Call {
    pub username: String,
    pub password: String,
    /// Signs with this secret, or sends no X-Signature.
    pub secret: Option<String>,
    pub api_key: String,
    pub timeout: Option<Duration>,
}

pub fn call() -> Call {
    Call {
        username: USERNAME.into(),
        password: PASSWORD.into(),
        secret: Some(SECRET.into()),
        api_key: API_KEY.into(),
        timeout: None,
    }
}

pub struct Client {
    pub fake: FakeIxopay,
    http: reqwest::Client,
}

/// A started fake (signatures required) and a client for it.
pub async fn spawn() -> Client {
    // The workspace's reqwest has no TLS provider of its own; an error means one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = FakeIxopayConfig {
        api_key: API_KEY.into(),
        username: USERNAME.into(),
        password: PASSWORD.into(),
        shared_secret: SECRET.into(),
        signature_required: true,
    };
    Client { fake: FakeIxopay::start(config).await, http: reqwest::Client::new() }
}

pub fn debit(id: &str, amount: &str) -> Value {
    json!({
        "merchantTransactionId": id,
        "amount": amount,
        "currency": "EUR",
        "successUrl": "https://shop.test/ok",
        "cancelUrl": "https://shop.test/cancel",
        "errorUrl": "https://shop.test/error",
        "callbackUrl": CALLBACK_URL,
        "description": "Lamp",
    })
}

/// A card registered on the hosted page: a debit's fields without amount and currency.
pub fn register(id: &str) -> Value {
    json!({
        "merchantTransactionId": id,
        "successUrl": "https://shop.test/ok",
        "cancelUrl": "https://shop.test/cancel",
        "errorUrl": "https://shop.test/error",
        "callbackUrl": CALLBACK_URL,
        "description": "Card for payouts",
        "customer": {"email": "seller@shop.test"},
    })
}

pub fn refund(id: &str, reference: &str, amount: &str) -> Value {
    json!({"merchantTransactionId": id, "referenceUuid": reference, "amount": amount, "currency": "EUR", "callbackUrl": CALLBACK_URL})
}

impl Client {
    /// `path` is below the base URL, e.g. `/transaction/my-api-key/debit`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        options: &Call,
    ) -> reqwest::Result<Reply> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let date = http_date(chrono::Utc::now());
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.fake.base_url()))
            .basic_auth(&options.username, Some(&options.password))
            .header("Content-Type", CONTENT_TYPE)
            .header("Date", &date)
            .header("X-Date", &date);
        if let Some(secret) = &options.secret {
            request = request
                .header("X-Signature", sign(secret, method.as_str(), &bytes, CONTENT_TYPE, &date, &format!("/api/v3{path}")));
        }
        if body.is_some() {
            request = request.body(bytes);
        }
        if let Some(timeout) = options.timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await?;
        Ok(Reply { status, body })
    }

    pub async fn transact(&self, op: &str, body: &Value, options: &Call) -> Reply {
        let path = format!("/transaction/{}/{op}", options.api_key);
        self.send(reqwest::Method::POST, &path, Some(body), options).await.unwrap()
    }

    pub async fn post(&self, op: &str, body: &Value) -> Reply {
        self.transact(op, body, &call()).await
    }

    pub async fn status_of(&self, merchant_transaction_id: &str) -> Reply {
        let path = format!("/status/{API_KEY}/getByMerchantTransactionId/{merchant_transaction_id}");
        self.send(reqwest::Method::GET, &path, None, &call()).await.unwrap()
    }

    /// A €`amount` debit the buyer paid (REDIRECT, then an OK callback); returns its uuid.
    pub async fn paid_debit(&self, id: &str, amount: &str) -> String {
        let reply = self.post("debit", &debit(id, amount)).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let uuid = reply.body["uuid"].as_str().unwrap().to_string();
        self.fake.callback(&uuid, "OK", &http_date(chrono::Utc::now())).unwrap();
        uuid
    }
}
