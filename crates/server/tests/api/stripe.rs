//! Stripe checkout, webhooks, refunds and failures, against a fake Stripe that checks
//! every request the way Stripe does.

use api::proto::{self, CreateRefundRequest, GetRefundRequest};
use app::Role;
use tonic::Code;

use crate::helpers::{Db, authed, checkout_request, eventually, token};
use crate::on_both_databases;
use crate::stripe_support::{CONNECT_SECRET, PLATFORM_SECRET, calls, deliver, field, paid_stripe_payment, spawn_with_stripe};

on_both_databases!(
    a_stripe_checkout_is_paid_by_its_signed_event_and_refunded,
    a_server_error_is_retried_with_the_same_key_and_a_bad_key_is_unavailable,
    a_refund_stripe_cannot_answer_stays_pending_until_recovery_sends_it_again,
    a_declined_refund_puts_the_money_back_and_a_pending_one_waits_for_its_event,
    checkout_events_follow_the_payment_state_machine,
);

fn stripe_checkout(user: &str, amount: &str, currency: &str) -> proto::CreateCheckoutSessionRequest {
    let mut request = checkout_request(user, amount, currency);
    request.gateway_name = "stripe".into();
    request.idempotency_key = format!("order-{user}-{amount}");
    request
}

fn refund(payment_id: &str, amount: &str, reason: &str) -> CreateRefundRequest {
    CreateRefundRequest {
        payment_id: payment_id.into(),
        amount: amount.into(),
        reason: reason.into(),
        idempotency_key: String::new(),
    }
}

async fn a_stripe_checkout_is_paid_by_its_signed_event_and_refunded(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let buyer = token("buyer-1", &[Role::User]);
    let created = app.create_checkout(&buyer, stripe_checkout("buyer-1", "100.50", "EUR")).await.expect("checkout");
    let sessions = fake.objects("checkout.session");
    assert_eq!(sessions.len(), 1);
    assert_eq!(created.session_id, sessions[0]["id"].as_str().unwrap());
    assert_eq!(created.checkout_url, sessions[0]["url"].as_str().unwrap());
    let sent = &calls(&fake, "POST", "/v1/checkout/sessions")[0];
    let payment_id = created.payment_id.as_str();
    assert_eq!(sent.idempotency_key.as_deref(), Some(format!("checkout-{payment_id}").as_str()));
    assert_eq!(sent.stripe_version.as_deref(), Some("2023-08-16"));
    for (name, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "10050"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", payment_id),
        ("metadata[payment_id]", payment_id),
        ("payment_intent_data[metadata][payment_id]", payment_id),
        ("payment_intent_data[transfer_group]", payment_id),
        ("success_url", "https://shop.example/success?session={CHECKOUT_SESSION_ID}"),
    ] {
        assert_eq!(field(sent, name), Some(value), "{name}");
    }
    let again = app.create_checkout(&buyer, stripe_checkout("buyer-1", "100.50", "EUR")).await.expect("replay");
    assert_eq!(again.session_id, created.session_id, "a replayed request gets the same session");
    assert_eq!(fake.objects("checkout.session").len(), 1);

    // A signature of neither endpoint's secret changes nothing.
    let session = fake.pay_session(&created.session_id).expect("paid at the fake");
    let event = fake.event("checkout.session.completed", session, None);
    let (status, _) = deliver(&app, &event, "whsec_someone_else").await;
    assert_eq!(status, 400);
    assert_eq!(app.get_payment(&buyer, payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Pending));
    let (status, answer) = deliver(&app, &event, PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    let paid = app.get_payment(&buyer, payment_id).await.unwrap();
    assert_eq!(paid.status, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!(app.ledger_balance("platform_cash:EUR").await, 10050);
    let (status, _) = deliver(&app, &event, CONNECT_SECRET).await;
    assert_eq!(status, 200, "the Connect endpoint's secret is accepted too; the repeat is a duplicate");
    assert_eq!(app.ledger_balance("platform_cash:EUR").await, 10050);

    let admin = token("ops", &[Role::Admin]);
    let partial = app.refunds().create_refund(authed(refund(payment_id, "40.00", "customer changed their mind"), &admin)).await;
    let partial = partial.expect("refund").into_inner().refund.unwrap();
    assert_eq!(partial.status, i32::from(proto::RefundStatus::Succeeded));
    let sent = &calls(&fake, "POST", "/v1/refunds")[0];
    let intent = fake.objects("payment_intent")[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(field(sent, "payment_intent"), Some(intent.as_str()));
    assert_eq!(field(sent, "amount"), Some("4000"));
    assert_eq!(field(sent, "reason"), None, "free text is not one of Stripe's reasons");
    assert_eq!(field(sent, "metadata[reason]"), Some("customer changed their mind"));
    assert_eq!(sent.idempotency_key.as_deref(), Some(format!("refund-{}", partial.id).as_str()));
    let rest = app.refunds().create_refund(authed(refund(payment_id, "", "requested_by_customer"), &admin)).await;
    let rest = rest.expect("rest").into_inner().refund.unwrap();
    assert_eq!(rest.amount, "60.50");
    assert_eq!(field(&calls(&fake, "POST", "/v1/refunds")[1], "reason"), Some("requested_by_customer"));
    assert_eq!(app.get_payment(&buyer, payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Refunded));
    assert_eq!(app.ledger_balance("platform_cash:EUR").await, 0);

    // An event about an object that is not ours is logged and answered 200.
    let stranger = fake.event(
        "refund.updated",
        serde_json::json!({"id": "re_elsewhere", "object": "refund", "status": "succeeded", "metadata": {}}),
        None,
    );
    let (status, answer) = deliver(&app, &stranger, PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.row_counts().await["webhook_logs"], 2, "the paid event once, the stranger once");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_server_error_is_retried_with_the_same_key_and_a_bad_key_is_unavailable(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let buyer = token("buyer-2", &[Role::User]);
    fake.fail_next("/v1/checkout/sessions", 500, 1);
    let created = app.create_checkout(&buyer, stripe_checkout("buyer-2", "20.00", "USD")).await.expect("after one retry");
    let attempts = calls(&fake, "POST", "/v1/checkout/sessions");
    assert_eq!(attempts.iter().map(|r| r.status).collect::<Vec<_>>(), vec![500, 200]);
    assert_eq!(attempts[0].idempotency_key, attempts[1].idempotency_key);
    assert_eq!(fake.objects("checkout.session").len(), 1, "one object at Stripe");
    assert!(created.session_id.starts_with("cs_"));

    fake.fail_next("/v1/checkout/sessions", 401, 1);
    let refused = app.create_checkout(&buyer, stripe_checkout("buyer-2", "30.00", "USD")).await.expect_err("bad key");
    assert_eq!(refused.code(), Code::Unavailable, "{}", refused.message());
    assert!(!refused.message().contains("sk_"), "{}", refused.message());
    let later = app.create_checkout(&buyer, stripe_checkout("buyer-2", "30.00", "USD")).await.expect("retry once the key works");
    assert!(later.checkout_url.starts_with("https://checkout.stripe.com/"));

    fake.fail_next("/v1/checkout/sessions", 400, 1);
    let invalid = app.create_checkout(&buyer, stripe_checkout("buyer-2", "40.00", "USD")).await.expect_err("invalid");
    assert_eq!(invalid.code(), Code::InvalidArgument, "{}", invalid.message());
    assert!(invalid.message().contains("Stripe"), "{}", invalid.message());
    assert_eq!(app.row_counts().await["journal_entries"], 0, "no money moved");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_refund_stripe_cannot_answer_stays_pending_until_recovery_sends_it_again(db: Db) {
    let (app, fake) = spawn_with_stripe(
        db,
        // Recovery looks only at refunds older than its interval: longer than the
        // client's two tries, so that it is recovery that settles this one.
        &[("GATEWAYS_STRIPE_TIMEOUT", "200ms"), ("GATEWAYS_STRIPE_MAX_RETRIES", "1"), ("RECOVERY_INTERVAL", "3s")],
    )
    .await;
    let payment_id = paid_stripe_payment(&app, &fake, "buyer-3", "15.00").await;
    let admin = token("ops", &[Role::Admin]);
    fake.hang_next("/v1/refunds", 2);
    let pending = app.refunds().create_refund(authed(refund(&payment_id, "5.00", "damaged"), &admin)).await;
    let pending = pending.expect("accepted").into_inner().refund.unwrap();
    assert_eq!(pending.status, i32::from(proto::RefundStatus::Pending), "Stripe may have acted: the refund waits");
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 1000, "the money is set aside at once");

    let refunds = app.refunds();
    let settled = eventually("the recovery job", || {
        let mut refunds = refunds.clone();
        let request = authed(GetRefundRequest { refund_id: pending.id.clone() }, &admin);
        async move {
            let refund = refunds.get_refund(request).await.ok()?.into_inner().refund?;
            (refund.status != i32::from(proto::RefundStatus::Pending)).then_some(refund)
        }
    })
    .await;
    assert_eq!(settled.status, i32::from(proto::RefundStatus::Succeeded));
    let attempts = calls(&fake, "POST", "/v1/refunds");
    assert!(attempts.len() >= 3, "two hung tries, then the recovery's: {}", attempts.len());
    assert!(attempts.iter().all(|r| r.idempotency_key == attempts[0].idempotency_key), "one key for every try");
    assert_eq!(fake.objects("refund").len(), 1, "one refund at Stripe");
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 1000);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_declined_refund_puts_the_money_back_and_a_pending_one_waits_for_its_event(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let payment_id = paid_stripe_payment(&app, &fake, "buyer-4", "50.00").await;
    let admin = token("ops", &[Role::Admin]);
    fake.fail_next("/v1/refunds", 402, 1);
    let declined = app.refunds().create_refund(authed(refund(&payment_id, "10.00", "fraudulent"), &admin)).await;
    let declined = declined.expect("answered").into_inner().refund.unwrap();
    assert_eq!(declined.status, i32::from(proto::RefundStatus::Failed));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 5000, "nothing moved");

    fake.refunds_start_pending(true);
    let pending = app.refunds().create_refund(authed(refund(&payment_id, "20.00", "duplicate"), &admin)).await;
    let pending = pending.expect("answered").into_inner().refund.unwrap();
    assert_eq!(pending.status, i32::from(proto::RefundStatus::Pending));
    let stripe_refund = fake.objects("refund").into_iter().last().unwrap();
    let failed = fake.set_refund_status(stripe_refund["id"].as_str().unwrap(), "failed").unwrap();
    let (status, answer) = deliver(&app, &fake.event("refund.failed", failed, None), PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    let after = app.refunds().get_refund(authed(GetRefundRequest { refund_id: pending.id.clone() }, &admin)).await;
    assert_eq!(after.unwrap().into_inner().refund.unwrap().status, i32::from(proto::RefundStatus::Failed));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 5000, "a failed refund's money is back");
    let buyer = token("buyer-4", &[Role::User]);
    assert_eq!(app.get_payment(&buyer, &payment_id).await.unwrap().refunded_amount, "0.00");

    // A refund that succeeded can still fail later: the bank returned it.
    fake.refunds_start_pending(false);
    let done = app.refunds().create_refund(authed(refund(&payment_id, "", "requested_by_customer"), &admin)).await;
    let done = done.expect("answered").into_inner().refund.unwrap();
    assert_eq!(done.status, i32::from(proto::RefundStatus::Succeeded));
    assert_eq!(app.get_payment(&buyer, &payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Refunded));
    let at_stripe = fake.objects("refund").into_iter().last().unwrap();
    let returned = fake.set_refund_status(at_stripe["id"].as_str().unwrap(), "failed").unwrap();
    for _ in 0..2 {
        let (status, answer) = deliver(&app, &fake.event("refund.updated", returned.clone(), None), PLATFORM_SECRET).await;
        assert_eq!(status, 200, "{answer}");
    }
    let after = app.refunds().get_refund(authed(GetRefundRequest { refund_id: done.id.clone() }, &admin)).await;
    assert_eq!(after.unwrap().into_inner().refund.unwrap().status, i32::from(proto::RefundStatus::Failed));
    let payment = app.get_payment(&buyer, &payment_id).await.unwrap();
    assert_eq!((payment.status, payment.refunded_amount.as_str()), (i32::from(proto::PaymentStatus::Succeeded), "0.00"));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 5000, "back once, though the event came twice");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn checkout_events_follow_the_payment_state_machine(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let buyer = token("buyer-6", &[Role::User]);
    let status_of = |payment_id: String| {
        let (app, buyer) = (&app, buyer.clone());
        async move { app.get_payment(&buyer, &payment_id).await.unwrap().status }
    };
    let send = |event: Vec<u8>| {
        let app = &app;
        async move {
            let (status, answer) = deliver(app, &event, PLATFORM_SECRET).await;
            assert_eq!(status, 200, "{answer}");
        }
    };

    // A delayed method: completed but unpaid is not money; async success is.
    let delayed = app.create_checkout(&buyer, stripe_checkout("buyer-6", "30.00", "USD")).await.unwrap();
    let mut unpaid = fake.object(&delayed.session_id).unwrap();
    unpaid["status"] = "complete".into();
    send(fake.event("checkout.session.completed", unpaid, None)).await;
    assert_eq!(status_of(delayed.payment_id.clone()).await, i32::from(proto::PaymentStatus::Pending));
    assert_eq!(app.row_counts().await["journal_entries"], 0);
    let paid = fake.pay_session(&delayed.session_id).unwrap();
    send(fake.event("checkout.session.async_payment_succeeded", paid, None)).await;
    assert_eq!(status_of(delayed.payment_id.clone()).await, i32::from(proto::PaymentStatus::Succeeded));

    // An abandoned session expires: cancelled, no money.
    let abandoned = app.create_checkout(&buyer, stripe_checkout("buyer-6", "31.00", "USD")).await.unwrap();
    let mut expired = fake.object(&abandoned.session_id).unwrap();
    expired["status"] = "expired".into();
    send(fake.event("checkout.session.expired", expired, None)).await;
    assert_eq!(status_of(abandoned.payment_id.clone()).await, i32::from(proto::PaymentStatus::Cancelled));

    // Another amount than the payment's moves nothing.
    let odd = app.create_checkout(&buyer, stripe_checkout("buyer-6", "32.00", "USD")).await.unwrap();
    let mut tampered = fake.pay_session(&odd.session_id).unwrap();
    tampered["amount_total"] = 100.into();
    send(fake.event("checkout.session.completed", tampered, None)).await;
    assert_eq!(status_of(odd.payment_id.clone()).await, i32::from(proto::PaymentStatus::Pending));

    // A declined attempt leaves the checkout open; a canceled intent fails it; money
    // Stripe took afterwards is still recorded.
    let retried = app.create_checkout(&buyer, stripe_checkout("buyer-6", "33.00", "USD")).await.unwrap();
    let intent = |status: &str| {
        serde_json::json!({"id": "pi_declined", "object": "payment_intent", "status": status,
            "metadata": {"payment_id": retried.payment_id}, "last_payment_error": {"message": "Your card was declined."}})
    };
    send(fake.event("payment_intent.payment_failed", intent("requires_payment_method"), None)).await;
    assert_eq!(status_of(retried.payment_id.clone()).await, i32::from(proto::PaymentStatus::Pending));
    send(fake.event("payment_intent.payment_failed", intent("canceled"), None)).await;
    let failed = app.get_payment(&buyer, &retried.payment_id).await.unwrap();
    assert_eq!(
        (failed.status, failed.failure_reason.as_str()),
        (i32::from(proto::PaymentStatus::Failed), "Your card was declined.")
    );
    let late = fake.pay_session(&retried.session_id).unwrap();
    send(fake.event("checkout.session.completed", late, None)).await;
    assert_eq!(status_of(retried.payment_id.clone()).await, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 3000 + 3300);
    app.assert_ledger_ok();
    app.stop().await;
}
