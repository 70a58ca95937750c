use api::proto::{self, ProcessWebhookEventRequest, ProcessWebhookRequest};
use app::Role;

use crate::helpers::{Db, MOCK_WEBHOOK_SECRET, authed, checkout_request, completed_event, now, sign, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(
    a_signed_webhook_completes_the_payment_once,
    bad_missing_and_stale_signatures_change_nothing,
    webhook_bodies_that_are_not_events_change_nothing,
    grpc_process_webhook_verifies_like_the_http_endpoint,
    trusted_events_need_the_service_role,
    an_unpaid_completion_or_a_different_amount_moves_no_money,
);

async fn a_signed_webhook_completes_the_payment_once(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "30", "USD")).await.expect("checkout");
    let body = completed_event("evt_1", &created.session_id);

    let (status, answer) = app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["duplicate"], false);
    // Redelivery of the same event id: 200, no second effect.
    let (status, answer) = app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    assert_eq!((status, answer["duplicate"].as_bool()), (200, Some(true)));

    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!(payment.gateway_payment_intent_id, "pi_test");
    let counts = app.row_counts().await;
    assert_eq!((counts["webhook_logs"], counts["journal_entries"]), (1, 1));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 3000);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn bad_missing_and_stale_signatures_change_nothing(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "30", "USD")).await.expect("checkout");
    let body = completed_event("evt_2", &created.session_id);
    let before = app.row_counts().await;

    let cases = [
        ("wrong secret", Some(sign("whsec_wrong", &body, now()))),
        ("missing", None),
        // A minute past the 5-minute tolerance: a second boundary crossed while the
        // test runs cannot bring them back inside it.
        ("stale", Some(sign(MOCK_WEBHOOK_SECRET, &body, now() - 360))),
        ("from the future", Some(sign(MOCK_WEBHOOK_SECRET, &body, now() + 360))),
        ("garbled", Some("t=abc,v1=zz".to_owned())),
        ("signed for another body", Some(sign(MOCK_WEBHOOK_SECRET, b"{}", now()))),
    ];
    for (case, signature) in cases {
        let (status, answer) = app.post_webhook("mock", &body, signature.as_deref()).await;
        assert_eq!(status, 400, "{case}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().starts_with("signature"), "{case}: {answer}");
    }
    assert_eq!(app.row_counts().await, before);
    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Pending));
    app.stop().await;
}

async fn webhook_bodies_that_are_not_events_change_nothing(db: Db) {
    let app = spawn_app(db).await;
    let before = app.row_counts().await;
    let garbage = vec![b'x'; 1024 * 1024];
    let (status, answer) = app.post_webhook("mock", &garbage, Some(&sign(MOCK_WEBHOOK_SECRET, &garbage, now()))).await;
    assert_eq!(status, 400);
    assert!(answer["error"]["message"].as_str().unwrap_or_default().starts_with("payload"), "{answer}");

    for body in
        [&b"not json"[..], br#"{"id":"evt_3"}"#, br#"{"id":"evt_4","type":"checkout.session.completed","data":{"object":{}}}"#]
    {
        let (status, answer) = app.post_webhook("mock", body, Some(&sign(MOCK_WEBHOOK_SECRET, body, now()))).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().starts_with("payload"), "{answer}");
    }
    let (status, _) = app.post_webhook("paypal", b"{}", Some("t=1,v1=00")).await;
    assert_eq!(status, 400, "unknown gateway");
    assert_eq!(app.row_counts().await, before);
    app.stop().await;
}

async fn grpc_process_webhook_verifies_like_the_http_endpoint(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "12", "USD")).await.expect("checkout");
    let body = completed_event("evt_grpc", &created.session_id);
    let service = token("backend", &[Role::Service]);

    let bad = ProcessWebhookRequest {
        gateway_name: "mock".into(),
        payload: body.clone(),
        signature: sign("whsec_wrong", &body, now()),
    };
    let refused = app.payments().process_webhook(authed(bad, &service)).await.expect_err("bad signature");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().starts_with("signature"));

    let good = ProcessWebhookRequest {
        gateway_name: "mock".into(),
        payload: body.clone(),
        signature: sign(MOCK_WEBHOOK_SECRET, &body, now()),
    };
    let answer = app.payments().process_webhook(authed(good, &service)).await.expect("verified").into_inner();
    assert!(answer.success, "{}", answer.message);
    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Succeeded));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn trusted_events_need_the_service_role(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "12", "USD")).await.expect("checkout");
    let event = ProcessWebhookEventRequest {
        event_id: "evt_trusted".into(),
        event_type: "checkout.session.completed".into(),
        event_payload: serde_json::json!({"id": created.session_id}).to_string().into_bytes(),
        created_at: None,
        gateway_name: "mock".into(),
    };
    let denied = app.payments().process_webhook_event(authed(event.clone(), &buyer)).await.expect_err("user role");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    let service = token("backend", &[Role::Service]);
    let answer = app.payments().process_webhook_event(authed(event.clone(), &service)).await.expect("service").into_inner();
    assert!(answer.success, "{}", answer.error_message);
    assert_eq!(answer.payment_id, created.payment_id);
    let again = app.payments().process_webhook_event(authed(event, &service)).await.expect("duplicate").into_inner();
    assert!(again.success);
    assert_eq!(app.row_counts().await["journal_entries"], 1);

    let unknown = ProcessWebhookEventRequest {
        event_id: "evt_unknown".into(),
        event_type: "checkout.session.completed".into(),
        event_payload: br#"{"id":"cs_nobody"}"#.to_vec(),
        created_at: None,
        gateway_name: "mock".into(),
    };
    let answer = app.payments().process_webhook_event(authed(unknown, &service)).await.expect("answered").into_inner();
    assert!(!answer.success);
    assert!(answer.error_message.contains("no payment"), "{}", answer.error_message);
    app.assert_ledger_ok();
    app.stop().await;
}

/// Stripe keeps its own webhook secret and its own limits.
#[tokio::test]
async fn the_stripe_endpoint_uses_the_stripe_secret_and_limits() {
    let (app, fake) = crate::stripe_support::spawn_with_stripe(Db::Sqlite, &[]).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "0.49", "USD");
    request.gateway_name = "stripe".into();
    let below_minimum = app.create_checkout(&buyer, request.clone()).await.expect_err("under 50 cents");
    assert!(below_minimum.message().starts_with("amount must be between 0.50 and 999999.99 USD"), "{}", below_minimum.message());
    request.currency = "RSD".into();
    request.amount = "100".into();
    let currency = app.create_checkout(&buyer, request.clone()).await.expect_err("RSD on Stripe");
    assert!(currency.message().starts_with("currency RSD is not supported"), "{}", currency.message());
    assert!(fake.requests().is_empty(), "refused before any call to Stripe");

    request.currency = "EUR".into();
    let created = app.create_checkout(&buyer, request).await.expect("stripe checkout");
    let session = fake.pay_session(&created.session_id).expect("paid");
    let body = fake.event("checkout.session.completed", session, None);
    let (status, _) = app.post_webhook("stripe", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    assert_eq!(status, 400, "the mock's secret does not sign Stripe events");
    let (status, _) = app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    assert_eq!(status, 200, "answered, but the mock has no such session");
    assert_eq!(
        app.get_payment(&buyer, &created.payment_id).await.expect("payment").status,
        i32::from(proto::PaymentStatus::Pending)
    );

    let (status, answer) = crate::stripe_support::deliver(&app, &body, crate::stripe_support::PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        app.get_payment(&buyer, &created.payment_id).await.expect("payment").status,
        i32::from(proto::PaymentStatus::Succeeded)
    );
    assert_eq!(app.ledger_balance("platform_cash:EUR").await, 10000);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn an_unpaid_completion_or_a_different_amount_moves_no_money(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "25.00", "USD")).await.expect("checkout");
    let event = |id: &str, object: serde_json::Value| {
        serde_json::json!({"id": id, "type": "checkout.session.completed", "data": {"object": object}}).to_string().into_bytes()
    };
    let unpaid = event("evt_unpaid", serde_json::json!({"id": created.session_id, "payment_status": "unpaid"}));
    let wrong_amount = event(
        "evt_wrong_amount",
        serde_json::json!({"id": created.session_id, "payment_status": "paid", "amount_total": 100, "currency": "usd"}),
    );
    for body in [unpaid, wrong_amount] {
        let (status, answer) = app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
        assert_eq!(status, 200, "{answer}");
        let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
        assert_eq!(payment.status, i32::from(proto::PaymentStatus::Pending), "{answer}");
    }
    assert_eq!(app.row_counts().await["journal_entries"], 0);

    let paid = event(
        "evt_paid",
        serde_json::json!({"id": created.session_id, "payment_status": "paid", "amount_total": 2500, "currency": "usd"}),
    );
    let (status, _) = app.post_webhook("mock", &paid, Some(&sign(MOCK_WEBHOOK_SECRET, &paid, now()))).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get_payment(&buyer, &created.payment_id).await.expect("payment").status,
        i32::from(proto::PaymentStatus::Succeeded)
    );
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 2500);
    app.assert_ledger_ok();
    app.stop().await;
}
