use std::sync::Arc;

use api::proto::{self, GetUserPaymentsRequest};
use app::Role;

use crate::helpers::{Db, authed, checkout_request, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(
    a_checkout_is_paid_on_the_mock_page_and_its_capture_is_in_the_ledger,
    a_failed_payment_redirects_to_cancel_and_moves_no_money,
    escrowed_and_deposit_payments_capture_into_their_accounts,
    a_users_payments_are_listed_newest_first_with_paging,
    mock_page_clicks_at_once_settle_their_own_payments_and_an_unknown_session_writes_nothing,
    a_mock_checkout_is_stored_with_its_session_and_one_stored_without_gets_it_on_replay,
);

async fn a_checkout_is_paid_on_the_mock_page_and_its_capture_is_in_the_ledger(db: Db) {
    // token → CreateCheckoutSession → mock page → complete → succeeded → check-ledger.
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);

    let created = app.create_checkout(&buyer, checkout_request("user-1", "100.50", "USD")).await.expect("checkout created");
    assert_eq!(created.status, i32::from(proto::PaymentStatus::Pending));
    assert!(created.session_id.starts_with("cs_mock_"));
    assert_eq!(
        created.checkout_url,
        format!("http://localhost:{}/payment/mock?session_id={}", app.addr.port(), created.session_id)
    );

    let page = app.http.get(&created.checkout_url).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("$100.50"), "{html}");
    assert!(html.contains("value=\"success\"") && html.contains("value=\"failure\""), "{html}");

    let (status, location) = app.complete_on_mock_page(&created.session_id, "success").await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("https://shop.example/success?session={}", created.session_id));

    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!((payment.amount.as_str(), payment.currency.as_str()), ("100.50", "USD"));
    assert!(payment.paid_at.is_some());
    assert_eq!(payment.refunded_amount, "0.00");

    assert_eq!(app.ledger_balance("platform_cash:USD").await, 10050);
    assert_eq!(app.ledger_balance("external:USD").await, -10050);
    // Pressing the button again is a duplicate event: no second capture.
    let (again, _) = app.complete_on_mock_page(&created.session_id, "success").await;
    assert_eq!(again, 303);
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 10050);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_failed_payment_redirects_to_cancel_and_moves_no_money(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-2", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-2", "5", "EUR")).await.expect("checkout");

    let (status, location) = app.complete_on_mock_page(&created.session_id, "failure").await;
    assert_eq!((status, location.as_str()), (303, "https://shop.example/cancel"));
    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Failed));
    assert!(!payment.failure_reason.is_empty());

    // A later "success" for the same session cannot resurrect it.
    app.complete_on_mock_page(&created.session_id, "success").await;
    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert_eq!(payment.status, i32::from(proto::PaymentStatus::Failed));
    assert_eq!(app.row_counts().await["journal_entries"], 0);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn escrowed_and_deposit_payments_capture_into_their_accounts(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-3", &[Role::User]);
    let merchant = app.create_account(&token("ops", &[Role::Admin]), "merchant-9").await.id;
    let mut escrowed = checkout_request("user-3", "20", "RSD");
    escrowed.escrow_enabled = true;
    escrowed.merchant_id = merchant.clone();
    let created = app.create_checkout(&buyer, escrowed).await.expect("escrowed checkout");
    app.complete_on_mock_page(&created.session_id, "success").await;
    let payment = app.get_payment(&buyer, &created.payment_id).await.expect("payment");
    assert!(payment.escrow_enabled);
    assert_eq!(payment.escrow_hold_period_days, 7, "default hold");
    assert_eq!(payment.merchant_id, merchant);
    assert_eq!(app.ledger_balance("platform_escrow:RSD").await, 2000);

    let mut deposit = checkout_request("user-3", "7.25", "USD");
    deposit.payment_type = proto::PaymentType::BalanceDeposit.into();
    let created = app.create_checkout(&buyer, deposit).await.expect("deposit checkout");
    app.complete_on_mock_page(&created.session_id, "success").await;
    assert_eq!(app.ledger_balance("wallet:user-3:USD").await, 725);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_users_payments_are_listed_newest_first_with_paging(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-4", &[Role::User]);
    let mut ids = Vec::new();
    for amount in ["1", "2", "3"] {
        ids.push(app.create_checkout(&buyer, checkout_request("user-4", amount, "USD")).await.expect("checkout").payment_id);
    }
    app.create_checkout(&token("other", &[Role::User]), checkout_request("other", "9", "USD")).await.expect("other");

    let list = |limit, offset| GetUserPaymentsRequest { user_id: "user-4".into(), limit, offset };
    let page = app.payments().get_user_payments(authed(list(2, 0), &buyer)).await.expect("list").into_inner();
    assert_eq!(page.total, 3);
    let listed: Vec<_> = page.payments.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed, vec![ids[2].clone(), ids[1].clone()]);
    let rest = app.payments().get_user_payments(authed(list(0, 2), &buyer)).await.expect("list").into_inner();
    assert_eq!(rest.payments.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![ids[0].clone()]);

    let too_many = app.payments().get_user_payments(authed(list(101, 0), &buyer)).await.expect_err("limit over 100");
    assert_eq!(too_many.code(), tonic::Code::InvalidArgument);
    assert!(too_many.message().contains("limit"));
    app.stop().await;
}

/// Clicks on the mock page arrive together and are settled in one group commit,
/// found by their sessions: each pays its own payment once. A click whose session no
/// payment has is not found and writes nothing.
async fn mock_page_clicks_at_once_settle_their_own_payments_and_an_unknown_session_writes_nothing(db: Db) {
    const CLICKS: usize = 12;
    let app = Arc::new(spawn_app(db).await);
    let buyer = token("user-5", &[Role::User]);
    let mut created = Vec::new();
    for n in 1..=CLICKS {
        let checkout = app.create_checkout(&buyer, checkout_request("user-5", &n.to_string(), "USD")).await.expect("checkout");
        created.push((checkout.payment_id, checkout.session_id, n));
    }
    let before = app.row_counts().await;
    let (status, _) = app.complete_on_mock_page("cs_mock_0190a1b2c3d4e5f60718293a4b5c6d7e", "success").await;
    assert_eq!(status, 404, "an unknown session");
    assert_eq!(app.row_counts().await, before, "an unknown session writes nothing");

    for round in ["first", "again"] {
        let mut clicks = tokio::task::JoinSet::new();
        for (payment_id, session_id, _) in created.clone() {
            let app = app.clone();
            clicks.spawn(async move { (payment_id, app.complete_on_mock_page(&session_id, "success").await) });
        }
        for (payment_id, (status, location)) in clicks.join_all().await {
            let session = &created.iter().find(|(id, ..)| *id == payment_id).expect("ours").1;
            assert_eq!((status, location), (303, format!("https://shop.example/success?session={session}")), "{round}");
        }
    }
    for (payment_id, _, dollars) in &created {
        let payment = app.get_payment(&buyer, payment_id).await.expect("payment");
        assert_eq!(payment.status, i32::from(proto::PaymentStatus::Succeeded));
        assert_eq!(payment.amount, format!("{dollars}.00"));
        assert!(payment.gateway_payment_intent_id.starts_with("pi_"), "{payment:?}");
    }
    let counts = app.row_counts().await;
    assert_eq!((counts["webhook_logs"], counts["journal_entries"]), (CLICKS as i64, CLICKS as i64), "each click once");
    let total: i64 = (1..=CLICKS as i64).sum::<i64>() * 100;
    assert_eq!(app.ledger_balance("platform_cash:USD").await, total);
    app.assert_ledger_ok();
    Arc::into_inner(app).expect("every click answered").stop().await;
}

/// The mock's session is written with the payment: the first answer is what is stored
/// and what a replay answers. A payment stored without its session (as before that, or
/// after a crash between a real gateway's write and call) gets the same session on
/// replay, and is paid through it.
async fn a_mock_checkout_is_stored_with_its_session_and_one_stored_without_gets_it_on_replay(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "12.00", "USD");
    request.idempotency_key = "order-session".into();
    let first = app.create_checkout(&buyer, request.clone()).await.expect("checkout");
    let stored = app.get_payment(&buyer, &first.payment_id).await.expect("payment");
    assert_eq!(
        (stored.gateway_session_id.as_str(), stored.checkout_url.as_str()),
        (first.session_id.as_str(), first.checkout_url.as_str())
    );
    assert_eq!(app.create_checkout(&buyer, request.clone()).await.expect("replay"), first);

    app.execute(&format!("UPDATE payments SET gateway_session_id = NULL, checkout_url = NULL WHERE id = '{}'", first.payment_id))
        .await;
    assert_eq!(app.create_checkout(&buyer, request).await.expect("replay without a session"), first);
    let stored = app.get_payment(&buyer, &first.payment_id).await.expect("payment");
    assert_eq!(stored.gateway_session_id, first.session_id, "the session is attached again");

    assert_eq!(app.complete_on_mock_page(&first.session_id, "success").await.0, 303);
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 1200);
    app.assert_ledger_ok();
    app.stop().await;
}
