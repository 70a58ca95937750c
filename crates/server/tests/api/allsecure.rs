//! AllSecure (IXOPAY v3) through the real ports, against a fake that checks Basic
//! auth and the signature of every request and signs its callbacks.

use api::proto::{
    self, CreateAccountLinkRequest, CreatePayoutRequest, CreateRefundRequest, CreateTransferRequest, DepositRequest,
    GetWalletRequest, WithdrawRequest,
};
use app::Role;
use fake_ixopay::{FakeIxopay, FakeIxopayConfig, http_date};

use crate::helpers::{Db, TestApp, authed, checkout_request, spawn_app_with, token};
use crate::on_both_databases;

const API_KEY: &str = "as-api-key";
const SHARED_SECRET: &str = "as-shared-secret";

on_both_databases!(
    an_rsd_checkout_is_paid_by_its_callback_once_and_refunded_in_part,
    a_declined_debit_fails_and_a_later_ok_is_honoured,
    a_deposit_keeps_the_card_and_credits_the_wallet,
    a_debit_made_before_a_503_is_found_by_status_and_never_made_twice,
    forged_stale_and_unsigned_callbacks_change_nothing,
    withdrawals_are_paid_to_the_card_of_a_top_up,
    a_serbian_vendor_registers_a_card_and_is_paid_out_to_it,
);

pub(crate) async fn spawn_with_allsecure(db: Db) -> (TestApp, FakeIxopay) {
    spawn_with_allsecure_and(db, &[]).await
}

async fn spawn_with_allsecure_and(db: Db, extra: &[(&str, &str)]) -> (TestApp, FakeIxopay) {
    let fake = FakeIxopay::start(FakeIxopayConfig {
        api_key: API_KEY.into(),
        username: "as-user".into(),
        password: "as-password".into(),
        shared_secret: SHARED_SECRET.into(),
        signature_required: true,
    })
    .await;
    let base_url = fake.base_url();
    let mut vars = vec![
        ("GATEWAYS_ALLSECURE_ENABLED", "true"),
        ("GATEWAYS_ALLSECURE_BASE_URL", base_url.as_str()),
        ("GATEWAYS_ALLSECURE_API_KEY", API_KEY),
        ("GATEWAYS_ALLSECURE_USERNAME", "as-user"),
        ("GATEWAYS_ALLSECURE_PASSWORD", "as-password"),
        ("GATEWAYS_ALLSECURE_SHARED_SECRET", SHARED_SECRET),
        ("GATEWAYS_ALLSECURE_TIMEOUT", "2s"),
        ("BALANCE_PENDING_DAYS", "0"),
    ];
    vars.extend_from_slice(extra);
    (spawn_app_with(db, &vars).await, fake)
}

pub(crate) fn allsecure_checkout(user: &str, amount: &str) -> proto::CreateCheckoutSessionRequest {
    let mut request = checkout_request(user, amount, "RSD");
    request.gateway_name = "allsecure".into();
    request
}

/// Posts a callback as the gateway would; returns the status and the body text.
pub(crate) async fn deliver(app: &TestApp, (body, headers): (Vec<u8>, Vec<(String, String)>)) -> (u16, String) {
    let mut request = app.http.post(app.url("/webhooks/allsecure")).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("callback answered");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

pub(crate) fn now() -> String {
    http_date(chrono::Utc::now())
}

/// The debit the fake holds for our payment.
pub(crate) fn debit_of(fake: &FakeIxopay, payment_id: &str) -> serde_json::Value {
    fake.transactions().into_iter().find(|t| t["merchantTransactionId"] == payment_id).expect("a debit at AllSecure")
}

async fn an_rsd_checkout_is_paid_by_its_callback_once_and_refunded_in_part(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let buyer = token("kupac-1", &[Role::User]);
    let created = app.create_checkout(&buyer, allsecure_checkout("kupac-1", "1500")).await.expect("checkout");
    let debit = debit_of(&fake, &created.payment_id);
    assert_eq!(debit["amount"], "1500.00");
    assert_eq!(debit["currency"], "RSD");
    assert_eq!(debit["transactionType"], "DEBIT");
    let sent = fake.requests().into_iter().find(|r| r.uri.ends_with("/debit")).unwrap();
    assert_eq!(sent.uri, format!("/api/v3/transaction/{API_KEY}/debit"));
    assert_eq!(sent.body["successUrl"], format!("https://shop.example/success?session={}", created.payment_id));
    assert!(sent.body["callbackUrl"].as_str().unwrap().ends_with("/webhooks/allsecure"));
    assert_eq!(created.session_id, created.payment_id, "the session id is the payment id on AllSecure");
    assert!(created.checkout_url.contains(debit["uuid"].as_str().unwrap()), "{}", created.checkout_url);
    let pending = app.get_payment(&buyer, &created.payment_id).await.unwrap();
    assert_eq!(pending.gateway_payment_intent_id, debit["uuid"].as_str().unwrap(), "the gateway's uuid is kept at once");

    let uuid = debit["uuid"].as_str().unwrap().to_owned();
    let callback = fake.callback(&uuid, "OK", &now()).unwrap();
    for _ in 0..2 {
        let (status, text) = deliver(&app, callback.clone()).await;
        assert_eq!((status, text.as_str()), (200, "OK"));
    }
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!(app.ledger_balance("platform_cash:RSD").await, 150_000, "captured once for two callbacks");

    let admin = token("ops", &[Role::Admin]);
    let request = CreateRefundRequest {
        payment_id: created.payment_id.clone(),
        amount: "400".into(),
        reason: "vraćena roba".into(),
        idempotency_key: String::new(),
    };
    let refund = app.refunds().create_refund(authed(request, &admin)).await.expect("refund").into_inner().refund.unwrap();
    assert_eq!(refund.status, i32::from(proto::RefundStatus::Succeeded));
    let at_gateway = fake.transactions().into_iter().find(|t| t["merchantTransactionId"] == refund.id.as_str()).unwrap();
    assert_eq!((at_gateway["referenceUuid"].as_str(), at_gateway["amount"].as_str()), (Some(uuid.as_str()), Some("400.00")));
    assert_eq!(app.ledger_balance("platform_cash:RSD").await, 110_000);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_declined_debit_fails_and_a_later_ok_is_honoured(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let buyer = token("kupac-2", &[Role::User]);
    let created = app.create_checkout(&buyer, allsecure_checkout("kupac-2", "800")).await.expect("checkout");
    let uuid = debit_of(&fake, &created.payment_id)["uuid"].as_str().unwrap().to_owned();
    let (status, _) = deliver(&app, fake.callback(&uuid, "ERROR", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Failed));
    assert_eq!(app.row_counts().await["journal_entries"], 0);
    let (status, _) = deliver(&app, fake.callback(&uuid, "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Succeeded));
    assert_eq!(app.ledger_balance("platform_cash:RSD").await, 80_000);

    // Declined in the answer itself: failed at once, the buyer goes to the cancel URL.
    fake.decline_next("debit", 2003, 1);
    let declined = app.create_checkout(&buyer, allsecure_checkout("kupac-2", "900")).await.expect("answered");
    assert!(declined.checkout_url.starts_with("https://shop.example/cancel"), "{}", declined.checkout_url);
    assert_eq!(app.get_payment(&buyer, &declined.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Failed));
    assert_eq!(app.ledger_balance("platform_cash:RSD").await, 80_000);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_deposit_keeps_the_card_and_credits_the_wallet(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let user = token("kupac-3", &[Role::User]);
    let request = DepositRequest {
        user_id: "kupac-3".into(),
        amount: "2000".into(),
        currency: "RSD".into(),
        gateway_name: "allsecure".into(),
        success_url: "https://shop.example/ok".into(),
        cancel_url: "https://shop.example/cancel".into(),
        idempotency_key: "top-up-1".into(),
    };
    let deposit = app.wallet().deposit(authed(request, &user)).await.expect("deposit").into_inner();
    let debit = debit_of(&fake, &deposit.payment_id);
    assert_eq!(debit["withRegister"], true, "the card is kept for withdrawals");
    let (status, _) = deliver(&app, fake.callback(debit["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    let wallet = app.wallet().get_wallet(authed(GetWalletRequest { user_id: "kupac-3".into() }, &user)).await;
    let balances = wallet.expect("wallet").into_inner().balances;
    assert!(balances.iter().any(|b| b.currency == "RSD" && b.amount == "2000.00"), "{balances:?}");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_debit_made_before_a_503_is_found_by_status_and_never_made_twice(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let buyer = token("kupac-4", &[Role::User]);
    fake.fail_after_processing("debit", 503, 1);
    let mut request = allsecure_checkout("kupac-4", "1200");
    request.idempotency_key = "order-4".into();
    let lost = app.create_checkout(&buyer, request.clone()).await.expect_err("the page's address was lost with the answer");
    assert_eq!(lost.code(), tonic::Code::Unavailable, "{}", lost.message());
    let listed = proto::GetUserPaymentsRequest { user_id: "kupac-4".into(), ..Default::default() };
    let payment =
        app.payments().get_user_payments(authed(listed, &buyer)).await.expect("payments").into_inner().payments.remove(0);
    assert_eq!(payment.checkout_url, "", "no success page without a payment");
    let asked = fake.requests().into_iter().filter(|r| r.uri.contains("/getByMerchantTransactionId/")).count();
    assert!(asked >= 1, "the status API was asked before anything else");
    assert_eq!(fake.requests().into_iter().filter(|r| r.uri.ends_with("/debit")).count(), 1, "no second debit sent");
    let again = app.create_checkout(&buyer, request).await.expect_err("a retry finds the same debit");
    assert_eq!(again.code(), tonic::Code::Unavailable);
    let debits: Vec<_> = fake.transactions().into_iter().filter(|t| t["merchantTransactionId"] == payment.id.as_str()).collect();
    assert_eq!(debits.len(), 1, "one debit for our id: the retry's was a 3004 duplicate");
    let created = proto::CreateCheckoutSessionResponse { payment_id: payment.id.clone(), ..Default::default() };
    let (status, _) = deliver(&app, fake.callback(debits[0]["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Succeeded));

    // Unanswered, and the status API has nothing: tried again with the same id.
    fake.fail_next("debit", 503, 1);
    let retried = app.create_checkout(&buyer, allsecure_checkout("kupac-4", "1300")).await.expect("after a retry");
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.uri.ends_with("/debit") && r.body["merchantTransactionId"] == retried.payment_id.as_str())
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body, "the same transaction, the same id");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn forged_stale_and_unsigned_callbacks_change_nothing(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let buyer = token("kupac-5", &[Role::User]);
    let created = app.create_checkout(&buyer, allsecure_checkout("kupac-5", "700")).await.expect("checkout");
    let uuid = debit_of(&fake, &created.payment_id)["uuid"].as_str().unwrap().to_owned();
    let (body, headers) = fake.callback(&uuid, "OK", &now()).unwrap();
    let replace = |name: &str, value: String| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(k, v)| if k.eq_ignore_ascii_case(name) { (k.clone(), value.clone()) } else { (k.clone(), v.clone()) })
            .collect()
    };
    let forged =
        fake_ixopay::sign("someone-else", "POST", &body, "application/json; charset=utf-8", &now(), "/webhooks/allsecure");
    let stale_date = http_date(chrono::Utc::now() - chrono::Duration::minutes(10));
    let stale_signature =
        fake_ixopay::sign(SHARED_SECRET, "POST", &body, "application/json; charset=utf-8", &stale_date, "/webhooks/allsecure");
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let cases = [
        (body.clone(), replace("x-signature", forged)),
        (
            body.clone(),
            replace("date", stale_date.clone())
                .into_iter()
                .map(|(k, v)| {
                    if k.eq_ignore_ascii_case("x-signature") {
                        (k, stale_signature.clone())
                    } else if k.eq_ignore_ascii_case("x-date") {
                        (k, stale_date.clone())
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        (body.clone(), headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("x-signature")).cloned().collect()),
        (tampered, headers.clone()),
    ];
    for case in cases {
        let (status, text) = deliver(&app, case).await;
        assert_eq!(status, 400, "{text}");
    }
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Pending));
    assert_eq!(app.row_counts().await["webhook_logs"], 0, "a refused callback is not stored");
    let (status, _) = deliver(&app, (body, headers)).await;
    assert_eq!(status, 200, "the genuine one still works");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn rsd_in_wallet(app: &TestApp, user: &str) -> String {
    let wallet = app.wallet().get_wallet(authed(GetWalletRequest { user_id: user.into() }, &token(user, &[Role::User]))).await;
    let balances = wallet.expect("wallet").into_inner().balances;
    balances.into_iter().find(|b| b.currency == "RSD").map(|b| b.amount).unwrap_or_default()
}

fn withdraw(user: &str, amount: &str, key: &str) -> WithdrawRequest {
    WithdrawRequest {
        user_id: user.into(),
        amount: amount.into(),
        currency: "RSD".into(),
        description: "isplata".into(),
        idempotency_key: key.into(),
    }
}

async fn withdrawals_are_paid_to_the_card_of_a_top_up(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let user = token("kupac-6", &[Role::User]);
    let no_card = app.wallet().withdraw(authed(withdraw("kupac-6", "500", "w-0"), &user)).await.expect_err("no card yet");
    assert_eq!(no_card.code(), tonic::Code::FailedPrecondition, "{}", no_card.message());
    assert!(no_card.message().contains("no card on file"), "{}", no_card.message());
    assert_eq!(app.row_counts().await["wallet_transactions"], 0, "nothing moved");

    let top_up = DepositRequest {
        user_id: "kupac-6".into(),
        amount: "2000".into(),
        currency: "RSD".into(),
        gateway_name: "allsecure".into(),
        success_url: "https://shop.example/ok".into(),
        cancel_url: "https://shop.example/cancel".into(),
        idempotency_key: "top-up-6".into(),
    };
    let deposit = app.wallet().deposit(authed(top_up, &user)).await.expect("deposit").into_inner();
    let card = debit_of(&fake, &deposit.payment_id)["uuid"].as_str().unwrap().to_owned();
    let (status, _) = deliver(&app, fake.callback(&card, "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(rsd_in_wallet(&app, "kupac-6").await, "2000.00");

    // Paid out to the top-up's card, pending until AllSecure's callback.
    let pending = app.wallet().withdraw(authed(withdraw("kupac-6", "500", "w-1"), &user)).await.expect("withdrawal");
    let pending = pending.into_inner().transaction.unwrap();
    assert_eq!(pending.status, i32::from(proto::WalletTransactionStatus::Pending));
    assert_eq!(rsd_in_wallet(&app, "kupac-6").await, "1500.00", "debited at once");
    let payout = fake.transactions().into_iter().find(|t| t["merchantTransactionId"] == pending.id.as_str()).expect("a payout");
    assert_eq!((payout["transactionType"].as_str(), payout["referenceUuid"].as_str()), (Some("PAYOUT"), Some(card.as_str())));
    let (status, _) = deliver(&app, fake.callback(payout["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);

    // The contract refuses: a clear FAILED_PRECONDITION, and the money stays.
    fake.decline_next("payout", 1006, 1);
    let refused = app.wallet().withdraw(authed(withdraw("kupac-6", "300", "w-2"), &user)).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("payouts are enabled"), "{}", refused.message());
    assert_eq!(rsd_in_wallet(&app, "kupac-6").await, "1500.00");

    // A payout that fails later gives the money back.
    let later = app.wallet().withdraw(authed(withdraw("kupac-6", "200", "w-3"), &user)).await.expect("withdrawal");
    let later = later.into_inner().transaction.unwrap();
    let payout = fake.transactions().into_iter().find(|t| t["merchantTransactionId"] == later.id.as_str()).expect("a payout");
    let (status, _) = deliver(&app, fake.callback(payout["uuid"].as_str().unwrap(), "ERROR", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(rsd_in_wallet(&app, "kupac-6").await, "1500.00");
    let history = app.history("kupac-6").await;
    let statuses: Vec<_> =
        history.iter().filter(|t| t.kind == i32::from(proto::WalletTransactionKind::Withdrawal)).map(|t| t.status).collect();
    let (completed, failed) =
        (i32::from(proto::WalletTransactionStatus::Completed), i32::from(proto::WalletTransactionStatus::Failed));
    assert_eq!(statuses.iter().filter(|s| **s == completed).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == failed).count(), 2, "{statuses:?}");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_serbian_vendor_registers_a_card_and_is_paid_out_to_it(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let admin = token("ops", &[Role::Admin]);
    let vendor = app.create_account(&admin, "prodavac-1").await;
    assert!(
        vendor.stripe_account_id.starts_with("acct_as_"),
        "a Serbian vendor lives with AllSecure: {}",
        vendor.stripe_account_id
    );
    let payout = |amount: &str, key: &str| CreatePayoutRequest {
        connected_account_id: vendor.id.clone(),
        amount: amount.into(),
        currency: "RSD".into(),
        method: proto::PayoutMethod::Standard.into(),
        idempotency_key: key.into(),
        ..Default::default()
    };

    // Onboarding is a card registration on AllSecure's page.
    let link = CreateAccountLinkRequest {
        account_id: vendor.id.clone(),
        return_url: "https://market.example/registered".into(),
        refresh_url: "https://market.example/retry".into(),
    };
    let link = app.accounts().create_account_link(authed(link, &admin)).await.expect("link").into_inner();
    let register = fake.transactions().into_iter().find(|t| t["transactionType"] == "REGISTER").expect("a register transaction");
    assert!(link.url.contains(register["uuid"].as_str().unwrap()), "{}", link.url);
    let (status, _) = deliver(&app, fake.callback(register["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);

    // A sale, the vendor's share, and a payout to the registered card.
    let buyer = token("kupac-7", &[Role::User]);
    let sale = app.create_checkout(&buyer, allsecure_checkout("kupac-7", "1000")).await.expect("checkout");
    let (status, _) =
        deliver(&app, fake.callback(debit_of(&fake, &sale.payment_id)["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    let share = CreateTransferRequest {
        connected_account_id: vendor.id.clone(),
        amount: "600".into(),
        currency: "RSD".into(),
        payment_id: sale.payment_id.clone(),
        idempotency_key: "share-1".into(),
        ..Default::default()
    };
    let share = app.transfers().create_transfer(authed(share, &admin)).await.expect("transfer").into_inner().transfer.unwrap();
    assert_eq!(
        share.status,
        i32::from(proto::TransferStatus::Paid),
        "a book entry: the money stays with the platform at AllSecure"
    );
    let sent =
        app.payouts().create_payout(authed(payout("500", "po-rs-1"), &admin)).await.expect("payout").into_inner().payout.unwrap();
    let at_gateway = fake.transactions().into_iter().find(|t| t["merchantTransactionId"] == sent.id.as_str()).expect("a payout");
    assert_eq!(at_gateway["referenceUuid"], register["uuid"], "paid to the registered card");
    let (status, _) = deliver(&app, fake.callback(at_gateway["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    let paid = app.payouts().get_payout(authed(proto::GetPayoutRequest { payout_id: sent.id.clone() }, &admin)).await;
    assert_eq!(paid.unwrap().into_inner().payout.unwrap().status, i32::from(proto::PayoutStatus::Paid));
    assert_eq!(app.ledger_balance(&format!("vendor_available:{}:RSD", vendor.id)).await, 10_000);

    // A vendor without a card is refused before anything moves.
    let other = app.create_account(&admin, "prodavac-2").await;
    app.execute(&format!("UPDATE connected_accounts SET status = 'active', payouts_enabled = 1 WHERE id = '{}'", other.id)).await;
    let mut request = payout("100", "po-rs-2");
    request.connected_account_id = other.id.clone();
    let refused = app.payouts().create_payout(authed(request, &admin)).await.expect_err("no card");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("no card registered"), "{}", refused.message());
    assert_eq!(app.row_counts().await["payouts"], 1);
    app.assert_ledger_ok();
    app.stop().await;
}

/// Production with AllSecure as the only gateway: the default, limits checked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_starts_with_allsecure_as_the_only_gateway() {
    let production = [("ENV", "production"), ("GATEWAYS_USE_MOCK", "false"), ("GATEWAYS_MOCK_WEBHOOK_SECRET", "")];
    let (app, fake) = spawn_with_allsecure_and(Db::Postgres, &production).await;
    let buyer = token("kupac-p", &[Role::User]);
    let too_small =
        app.create_checkout(&buyer, checkout_request("kupac-p", "0.99", "RSD")).await.expect_err("under 100 minor units");
    assert!(too_small.message().starts_with("amount must be between 1.00 and"), "{}", too_small.message());
    let usd = app.create_checkout(&buyer, checkout_request("kupac-p", "10.00", "USD")).await.expect_err("USD");
    assert!(usd.message().starts_with("currency USD is not supported"), "{}", usd.message());
    assert!(fake.requests().is_empty(), "refused before any call");
    let created = app.create_checkout(&buyer, checkout_request("kupac-p", "500", "RSD")).await.expect("AllSecure is the default");
    let (status, _) =
        deliver(&app, fake.callback(debit_of(&fake, &created.payment_id)["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Succeeded));
    app.assert_ledger_ok();
    app.stop().await;
}
