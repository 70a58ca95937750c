//! The service wired to an in-process fake of Stripe, and what the Stripe tests share.

use std::time::Duration;

use fake_stripe::{FakeStripe, RecordedRequest};

use crate::helpers::{Db, TestApp, spawn_app_with};

pub const API_KEY: &str = "sk_test_fake_0123456789";
pub const PLATFORM_SECRET: &str = "whsec_platform_test";
pub const CONNECT_SECRET: &str = "whsec_connect_test";

/// The service with Stripe enabled against a fresh fake, beside the mock.
pub async fn spawn_with_stripe(db: Db, extra: &[(&str, &str)]) -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start(API_KEY).await;
    let base_url = fake.base_url();
    let mut vars = vec![
        ("GATEWAYS_STRIPE_ENABLED", "true"),
        ("GATEWAYS_STRIPE_API_KEY", API_KEY),
        ("GATEWAYS_STRIPE_WEBHOOK_SECRET", PLATFORM_SECRET),
        ("GATEWAYS_STRIPE_CONNECT_WEBHOOK_SECRET", CONNECT_SECRET),
        ("GATEWAYS_STRIPE_BASE_URL", base_url.as_str()),
        ("GATEWAYS_STRIPE_TIMEOUT", "2s"),
        ("BALANCE_PENDING_DAYS", "0"),
    ];
    vars.extend_from_slice(extra);
    (spawn_app_with(db, &vars).await, fake)
}

/// The value of form field `name` in a recorded request.
pub fn field<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Requests to `path` (exact) with `method`.
pub fn calls(fake: &FakeStripe, method: &str, path: &str) -> Vec<RecordedRequest> {
    fake.requests().into_iter().filter(|r| r.method == method && r.path == path).collect()
}

/// Delivers a Stripe event signed with `secret`; returns the HTTP status and answer.
pub async fn deliver(app: &TestApp, body: &[u8], secret: &str) -> (u16, serde_json::Value) {
    let now = chrono::Utc::now().timestamp();
    app.post_webhook("stripe", body, Some(&fake_stripe::sign(secret, body, now))).await
}

/// Polls `check` until it returns `Some`, for at most a minute (a loaded machine is slow).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
