//! A typed client for the fake, so that each test reads like its scenario.

use std::time::Duration;

use fake_stripe::FakeStripe;
use serde_json::Value;

pub const KEY: &str = "sk_test_fake_0123456789";
pub const VERSION: &str = "2023-08-16";

/// What came back: status, body, and whether Stripe said it was a replay.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

impl Reply {
    pub fn error_param(&self) -> Option<&str> {
        self.body["error"]["param"].as_str()
    }
}

pub struct Client {
    pub fake: FakeStripe,
    http: reqwest::Client,
}

/// A started fake and a client for it.
pub async fn spawn() -> Client {
    // The workspace's reqwest has no TLS provider of its own; an error means one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client { fake: FakeStripe::start(KEY).await, http: reqwest::Client::new() }
}

/// Options of one call: key, idempotency key, connected account.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub api_key: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub account: Option<&'a str>,
    pub timeout: Option<Duration>,
}

pub fn call(idempotency_key: &str) -> Call<'_> {
    Call { api_key: KEY, idempotency_key: Some(idempotency_key), account: None, timeout: None }
}

impl Client {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        options: Call<'_>,
        form: &[(&str, &str)],
    ) -> reqwest::Result<Reply> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.fake.base_url()))
            .bearer_auth(options.api_key)
            .header("Stripe-Version", VERSION)
            .form(form);
        if let Some(key) = options.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(account) = options.account {
            request = request.header("Stripe-Account", account);
        }
        if let Some(timeout) = options.timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let body = response.json().await?;
        Ok(Reply { status, body, replayed })
    }

    pub async fn post(&self, path: &str, options: Call<'_>, form: &[(&str, &str)]) -> Reply {
        self.send(reqwest::Method::POST, path, options, form).await.unwrap()
    }

    pub async fn get(&self, path: &str, account: Option<&str>) -> Reply {
        let options = Call { api_key: KEY, idempotency_key: None, account, timeout: None };
        self.send(reqwest::Method::GET, path, options, &[]).await.unwrap()
    }

    pub async fn create_account(&self, key: &str) -> String {
        let reply = self
            .post(
                "/v1/accounts",
                call(key),
                &[("type", "express"), ("country", "DE"), ("capabilities[transfers][requested]", "true")],
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// A paid €50 session; returns (payment_intent id, charge id).
    pub async fn paid_payment(&self, key: &str) -> (String, String) {
        let reply = self
            .post(
                "/v1/checkout/sessions",
                call(key),
                &[
                    ("mode", "payment"),
                    ("success_url", "https://shop.test/ok?session={CHECKOUT_SESSION_ID}"),
                    ("cancel_url", "https://shop.test/cancel"),
                    ("client_reference_id", "pay_1"),
                    ("metadata[payment_id]", "pay_1"),
                    ("line_items[0][price_data][currency]", "eur"),
                    ("line_items[0][price_data][unit_amount]", "2500"),
                    ("line_items[0][price_data][product_data][name]", "Lamp"),
                    ("line_items[0][quantity]", "2"),
                    ("payment_intent_data[metadata][payment_id]", "pay_1"),
                    ("payment_intent_data[transfer_group]", "group_1"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["amount_total"], 5000);
        let session = self.fake.pay_session(reply.body["id"].as_str().unwrap()).unwrap();
        let pi = session["payment_intent"].as_str().unwrap().to_string();
        let charge = self.fake.object(&pi).unwrap()["latest_charge"].as_str().unwrap().to_string();
        (pi, charge)
    }
}
