//! The service wired to an in-process fake of Stripe, and what the Stripe tests share.

use api::proto;
use app::Role;
use fake_stripe::{FakeStripe, RecordedRequest};

use crate::helpers::{Db, TestApp, checkout_request, eventually, spawn_app_with, token};

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

/// A checkout through Stripe paid by its signed event; returns the payment id.
pub async fn paid_stripe_payment(app: &TestApp, fake: &FakeStripe, user: &str, amount: &str) -> String {
    let buyer = token(user, &[Role::User]);
    let mut request = checkout_request(user, amount, "USD");
    request.gateway_name = "stripe".into();
    let created = app.create_checkout(&buyer, request).await.expect("checkout");
    let session = fake.pay_session(&created.session_id).expect("paid");
    let (status, answer) = deliver(app, &fake.event("checkout.session.completed", session, None), PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    created.payment_id
}

/// A connected account created at Stripe and verified by `account.updated`;
/// returns our id and Stripe's.
pub async fn stripe_vendor(app: &TestApp, fake: &FakeStripe, admin: &str, owner: &str) -> (String, String) {
    let account = app.create_account(admin, owner).await;
    let verified = fake.update_account(&account.stripe_account_id, true, true, true, None).expect("account at the fake");
    let event = fake.event("account.updated", verified, Some(&account.stripe_account_id));
    let (status, answer) = deliver(app, &event, CONNECT_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    (account.id, account.stripe_account_id)
}

/// Polls a transfer until `done` holds.
pub async fn transfer_when(app: &TestApp, admin: &str, id: &str, done: impl Fn(&proto::Transfer) -> bool) -> proto::Transfer {
    let transfers = app.transfers();
    eventually("the transfer's state", || {
        let mut transfers = transfers.clone();
        let request = crate::helpers::authed(proto::GetTransferRequest { transfer_id: id.into() }, admin);
        let done = &done;
        async move {
            let transfer = transfers.get_transfer(request).await.ok()?.into_inner().transfer?;
            done(&transfer).then_some(transfer)
        }
    })
    .await
}
