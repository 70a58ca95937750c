//! Stripe Connect through the real ports: an express account onboarded by
//! `account.updated`, an escrow released into a transfer from the charge, a partial
//! reversal, payouts settled by their events, balances compared with Stripe's, and
//! production starting with Stripe alone.

use api::proto::event_service_client::EventServiceClient;
use api::proto::{
    self, CreateAccountLinkRequest, CreatePayoutRequest, GetBalanceRequest, GetConnectedAccountRequest, GetPayoutRequest,
    ListEventsRequest, ReleaseEscrowHoldRequest, ReverseTransferRequest,
};
use app::Role;

use crate::helpers::{Db, TestApp, authed, checkout_request, token};
use crate::on_both_databases;
use crate::stripe_support::{
    API_KEY, CONNECT_SECRET, PLATFORM_SECRET, calls, deliver, field, paid_stripe_payment, spawn_with_stripe, stripe_vendor,
    transfer_when,
};

on_both_databases!(
    a_vendor_is_onboarded_paid_from_escrow_reversed_and_paid_out_through_stripe,
    transfers_and_reversals_survive_refusals_timeouts_and_changes_made_at_stripe,
    a_reversal_beyond_the_balance_is_clawed_back_and_recovered_from_the_next_transfer,
    a_debt_larger_than_two_transfers_is_repaid_by_them_and_the_third_reaches_the_vendor,
);

async fn account_status(app: &TestApp, admin: &str, id: &str) -> proto::ConnectedAccount {
    let request = authed(GetConnectedAccountRequest { account_id: id.into() }, admin);
    app.accounts().get_connected_account(request).await.expect("account").into_inner().account.expect("account")
}

pub(crate) fn payout(account: &str, amount: &str, key: &str) -> CreatePayoutRequest {
    CreatePayoutRequest {
        connected_account_id: account.into(),
        amount: amount.into(),
        currency: "USD".into(),
        method: proto::PayoutMethod::Standard.into(),
        statement_descriptor: "VONDI SHOP".into(),
        idempotency_key: key.into(),
        ..Default::default()
    }
}

async fn a_vendor_is_onboarded_paid_from_escrow_reversed_and_paid_out_through_stripe(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let admin = token("ops", &[Role::Admin]);

    // Onboarding: an express account with transfers and manual payouts.
    let account = app.create_account(&admin, "vendor-1").await;
    let stripe_account = fake.objects("account")[0].clone();
    let acct = stripe_account["id"].as_str().unwrap().to_owned();
    assert_eq!(account.stripe_account_id, acct);
    let sent = &calls(&fake, "POST", "/v1/accounts")[0];
    for (name, value) in [
        ("type", "express"),
        ("country", "RS"),
        ("business_type", "company"),
        ("capabilities[transfers][requested]", "true"),
        ("settings[payouts][schedule][interval]", "manual"),
        ("metadata[account_id]", account.id.as_str()),
    ] {
        assert_eq!(field(sent, name), Some(value), "{name}");
    }
    let link = CreateAccountLinkRequest {
        account_id: account.id.clone(),
        return_url: "https://market.example/onboarded".into(),
        refresh_url: "https://market.example/retry".into(),
    };
    let link = app.accounts().create_account_link(authed(link, &admin)).await.expect("link").into_inner();
    assert!(link.url.starts_with("https://connect.stripe.com/"), "{}", link.url);
    assert_eq!(field(&calls(&fake, "POST", "/v1/account_links")[0], "account"), Some(acct.as_str()));

    let verified = fake.update_account(&acct, true, true, true, None).unwrap();
    let now = chrono::Utc::now().timestamp();
    let (status, answer) = deliver(&app, &fake.event_at("account.updated", verified, Some(&acct), now), CONNECT_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    let active = account_status(&app, &admin, &account.id).await;
    assert_eq!(active.status, i32::from(proto::ConnectedAccountStatus::Active));
    assert!(active.payouts_enabled && active.charges_enabled && active.details_submitted);
    // An older event that arrives late never undoes the newer state.
    let stale = fake.update_account(&acct, true, false, true, Some("requirements.past_due")).unwrap();
    let (status, _) = deliver(&app, &fake.event_at("account.updated", stale, Some(&acct), now - 60), CONNECT_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(account_status(&app, &admin, &account.id).await.status, i32::from(proto::ConnectedAccountStatus::Active));
    fake.update_account(&acct, true, true, true, None).unwrap();

    // An escrowed Stripe payment, released into a transfer from its charge.
    let buyer = token("buyer-9", &[Role::User]);
    let mut request = checkout_request("buyer-9", "100.00", "USD");
    request.gateway_name = "stripe".into();
    request.escrow_enabled = true;
    request.merchant_id = account.id.clone();
    let created = app.create_checkout(&buyer, request).await.expect("checkout");
    let session = fake.pay_session(&created.session_id).unwrap();
    let (status, answer) = deliver(&app, &fake.event("checkout.session.completed", session, None), PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    let hold = app.hold_of(&created.payment_id).await;
    let released = app.escrow().release_escrow_hold(authed(ReleaseEscrowHoldRequest { escrow_id: hold.id }, &admin)).await;
    assert!(released.expect("released").into_inner().success);
    let transfer = calls(&fake, "POST", "/v1/transfers").pop().expect("a transfer at Stripe");
    let charge = fake.objects("charge")[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(field(&transfer, "source_transaction"), Some(charge.as_str()));
    assert_eq!(field(&transfer, "destination"), Some(acct.as_str()));
    assert_eq!(field(&transfer, "amount"), Some("10000"), "no split rule: no fee");
    assert_eq!(field(&transfer, "transfer_group"), Some(created.payment_id.as_str()));
    let ours = app
        .transfers()
        .list_transfers(authed(
            proto::ListTransfersRequest { connected_account_id: account.id.clone(), ..Default::default() },
            &admin,
        ))
        .await;
    let ours = ours.expect("transfers").into_inner().transfers.remove(0);
    assert_eq!(ours.status, i32::from(proto::TransferStatus::Paid));
    assert_eq!(app.ledger_balance(&format!("vendor_available:{}:USD", account.id)).await, 10000);

    // A partial reversal goes to Stripe keyed by our reversal.
    let reverse = ReverseTransferRequest {
        transfer_id: ours.id.clone(),
        amount: "25.00".into(),
        description: "damaged".into(),
        idempotency_key: "rev-1".into(),
    };
    let reversed = app.transfers().reverse_transfer(authed(reverse, &admin)).await.expect("reversal").into_inner();
    let reversal_call =
        calls(&fake, "POST", &format!("/v1/transfers/{}/reversals", ours.gateway_transfer_id)).pop().expect("reversal at Stripe");
    assert_eq!(field(&reversal_call, "amount"), Some("2500"));
    assert_eq!(reversal_call.idempotency_key, Some(format!("reversal-{}", reversed.reversal.unwrap().id)));
    // Stripe's own transfer.reversed event for it records nothing twice.
    let at_stripe = fake.object(&ours.gateway_transfer_id).unwrap();
    let (status, _) = deliver(&app, &fake.event("transfer.reversed", at_stripe, None), PLATFORM_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(app.ledger_balance(&format!("vendor_available:{}:USD", account.id)).await, 7500);

    // Payouts on the connected account: one paid, one failed, by their events.
    let first = app
        .payouts()
        .create_payout(authed(payout(&account.id, "30.00", "po-1"), &admin))
        .await
        .expect("payout")
        .into_inner()
        .payout
        .unwrap();
    let second = app
        .payouts()
        .create_payout(authed(payout(&account.id, "20.00", "po-2"), &admin))
        .await
        .expect("payout")
        .into_inner()
        .payout
        .unwrap();
    let sent = calls(&fake, "POST", "/v1/payouts");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.stripe_account.as_deref() == Some(acct.as_str())));
    assert_eq!(field(&sent[0], "statement_descriptor"), Some("VONDI SHOP"));
    let stripe_payouts = fake.objects("payout");
    let paid = fake.set_payout_status(stripe_payouts[0]["id"].as_str().unwrap(), "paid").unwrap();
    let failed = fake.set_payout_status(stripe_payouts[1]["id"].as_str().unwrap(), "failed").unwrap();
    for (kind, object) in [("payout.paid", paid), ("payout.failed", failed)] {
        let (status, answer) = deliver(&app, &fake.event(kind, object, Some(&acct)), CONNECT_SECRET).await;
        assert_eq!(status, 200, "{answer}");
    }
    let read = |id: String| {
        let mut payouts = app.payouts();
        let request = authed(GetPayoutRequest { payout_id: id }, &admin);
        async move { payouts.get_payout(request).await.expect("payout").into_inner().payout.unwrap() }
    };
    assert_eq!(read(first.id.clone()).await.status, i32::from(proto::PayoutStatus::Paid));
    let failed = read(second.id.clone()).await;
    assert_eq!(failed.status, i32::from(proto::PayoutStatus::Failed));
    assert!(!failed.failure_code.is_empty());
    assert_eq!(
        app.ledger_balance(&format!("vendor_available:{}:USD", account.id)).await,
        4500,
        "the failed payout's money is back"
    );
    // Days later the bank returns the paid one.
    let returned = fake.set_payout_status(stripe_payouts[0]["id"].as_str().unwrap(), "failed").unwrap();
    let (status, answer) = deliver(&app, &fake.event("payout.failed", returned, Some(&acct)), CONNECT_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(read(first.id.clone()).await.status, i32::from(proto::PayoutStatus::Failed));
    assert_eq!(app.ledger_balance(&format!("vendor_available:{}:USD", account.id)).await, 7500);

    // The balance compared with Stripe's: they agree, and the snapshot says so.
    let balance = GetBalanceRequest { account_id: account.id.clone(), force_refresh: true };
    let balance = app.balances().get_balance(authed(balance, &admin)).await.expect("balance").into_inner().balances.remove(0);
    assert_eq!((balance.available_amount.as_str(), balance.gateway_available_amount.as_str()), ("75.00", "75.00"));
    assert!(!balance.gateway_mismatch);
    assert_eq!(calls(&fake, "GET", "/v1/balance")[0].stripe_account.as_deref(), Some(acct.as_str()));

    // A payout Stripe refuses fails at once, with its money back.
    fake.fail_next("/v1/payouts", 400, 1);
    let refused = app.payouts().create_payout(authed(payout(&account.id, "10.00", "po-3"), &admin)).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("Stripe"), "{}", refused.message());
    let listed = proto::ListPayoutsRequest { connected_account_id: account.id.clone(), ..Default::default() };
    let listed = app.payouts().list_payouts(authed(listed, &admin)).await.expect("payouts").into_inner().payouts;
    assert!(listed.iter().any(|p| p.status == i32::from(proto::PayoutStatus::Failed) && p.failure_message.contains("Stripe")));
    assert_eq!(app.ledger_balance(&format!("vendor_available:{}:USD", account.id)).await, 7500);
    app.assert_ledger_ok();
    app.stop().await;
}

/// Production with Stripe as the only gateway: no mock, no mock pages, Stripe by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_starts_with_stripe_as_the_only_gateway() {
    let production = [
        ("ENV", "production"),
        ("GATEWAYS_USE_MOCK", "false"),
        ("GATEWAYS_MOCK_WEBHOOK_SECRET", ""),
        ("GATEWAYS_STRIPE_ALLOW_TEST_KEYS", "true"),
    ];
    let (app, fake) = spawn_with_stripe(Db::Postgres, &production).await;
    let buyer = token("buyer-p", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("buyer-p", "12.00", "USD")).await.expect("checkout");
    assert_eq!(fake.objects("checkout.session")[0]["id"].as_str(), Some(created.session_id.as_str()), "Stripe is the default");
    let mut mock = checkout_request("buyer-p", "12.00", "USD");
    mock.gateway_name = "mock".into();
    let refused = app.create_checkout(&buyer, mock).await.expect_err("no mock in production");
    assert!(refused.message().contains("not a configured gateway"), "{}", refused.message());
    let page = app.http.get(app.url(&format!("/payment/mock?session_id={}", created.session_id))).send().await.expect("answer");
    assert_eq!(page.status().as_u16(), 404, "the mock page cannot complete a Stripe session");
    let session = fake.pay_session(&created.session_id).unwrap();
    let (status, answer) = deliver(&app, &fake.event("checkout.session.completed", session, None), PLATFORM_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.get_payment(&buyer, &created.payment_id).await.unwrap().status, i32::from(proto::PaymentStatus::Succeeded));
    app.assert_ledger_ok();
    app.stop().await;
}

/// A transfer of `amount` from a new Stripe payment of `paid`, once Stripe made it.
pub(crate) async fn paid_transfer(
    app: &TestApp,
    fake: &fake_stripe::FakeStripe,
    account: &str,
    (paid, amount): (&str, &str),
) -> proto::Transfer {
    let admin = token("ops", &[Role::Admin]);
    let payment_id = paid_stripe_payment(app, fake, "buyer-7", paid).await;
    let request = proto::CreateTransferRequest {
        connected_account_id: account.into(),
        amount: amount.into(),
        currency: "USD".into(),
        payment_id,
        ..Default::default()
    };
    let created =
        app.transfers().create_transfer(authed(request, &admin)).await.expect("transfer").into_inner().transfer.unwrap();
    transfer_when(app, &admin, &created.id, |t| t.status == i32::from(proto::TransferStatus::Paid)).await
}

async fn a_reversal_beyond_the_balance_is_clawed_back_and_recovered_from_the_next_transfer(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let admin = token("ops", &[Role::Admin]);
    let (account, _) = stripe_vendor(&app, &fake, &admin, "vendor-3").await;
    let (available, receivable) = (format!("vendor_available:{account}:USD"), format!("vendor_receivable:{account}:USD"));
    let paid = paid_transfer(&app, &fake, &account, ("100.00", "100.00")).await;
    app.payouts().create_payout(authed(payout(&account, "80.00", "po-claw"), &admin)).await.expect("payout");
    assert_eq!(app.ledger_balance(&available).await, 2_000);

    // Stripe refuses the reversal: exactly what it took goes back, 20.00 to the
    // balance and the 80.00 owed cancelled.
    let reversals = format!("/v1/transfers/{}/reversals", paid.gateway_transfer_id);
    fake.fail_next(&reversals, 400, 1);
    let refused = app.transfers().reverse_transfer(authed(reverse(&paid.id, "100.00", "claw-a"), &admin)).await;
    let refused = refused.expect("a clawback is accepted").into_inner();
    assert_eq!(refused.reversal.unwrap().status, "failed");
    assert_eq!(refused.transfer.unwrap().reversed_amount, "0.00");
    assert_eq!((app.ledger_balance(&available).await, app.ledger_balance(&receivable).await), (2_000, 0));
    app.assert_ledger_ok();

    // Accepted: 20.00 from the balance, 80.00 owed.
    let reversed = app.transfers().reverse_transfer(authed(reverse(&paid.id, "100.00", "claw-b"), &admin)).await;
    assert_eq!(reversed.expect("clawback").into_inner().reversal.unwrap().status, "succeeded");
    assert_eq!((app.ledger_balance(&available).await, app.ledger_balance(&receivable).await), (0, -8_000));
    let balance = GetBalanceRequest { account_id: account.clone(), force_refresh: false };
    let balance = app.balances().get_balance(authed(balance, &admin)).await.expect("balance").into_inner().balances;
    assert_eq!((balance[0].available_amount.as_str(), balance[0].receivable_amount.as_str()), ("0.00", "80.00"));

    // The next transfer repays the debt first: 80.00 of its 100.00, 20.00 reach the vendor.
    let next = paid_transfer(&app, &fake, &account, ("100.00", "100.00")).await;
    assert_eq!(next.amount, "20.00");
    assert_eq!((app.ledger_balance(&available).await, app.ledger_balance(&receivable).await), (2_000, 0));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_debt_larger_than_two_transfers_is_repaid_by_them_and_the_third_reaches_the_vendor(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let admin = token("ops", &[Role::Admin]);
    let (account, _) = stripe_vendor(&app, &fake, &admin, "vendor-4").await;
    let receivable = format!("vendor_receivable:{account}:USD");
    // Paid 100.00, paid out 100.00, reversed 100.00: the vendor owes 100.00.
    let paid = paid_transfer(&app, &fake, &account, ("100.00", "100.00")).await;
    app.payouts().create_payout(authed(payout(&account, "100.00", "po-debt"), &admin)).await.expect("payout");
    let reversed = app.transfers().reverse_transfer(authed(reverse(&paid.id, "100.00", "debt"), &admin)).await;
    assert_eq!(reversed.expect("clawback").into_inner().reversal.unwrap().status, "succeeded");
    assert_eq!(app.ledger_balance(&receivable).await, -10_000);

    // Two transfers smaller than the debt repay it and reach nobody: created, paid
    // at once, nothing sent to Stripe; a retry answers the same transfer.
    let sent_before = calls(&fake, "POST", "/v1/transfers").len();
    let mut repaid = Vec::new();
    for (amount, key) in [("30.00", "repay-1"), ("45.00", "repay-2")] {
        let payment_id = paid_stripe_payment(&app, &fake, "buyer-9", amount).await;
        let request = proto::CreateTransferRequest {
            connected_account_id: account.clone(),
            amount: amount.into(),
            currency: "USD".into(),
            payment_id,
            idempotency_key: key.into(),
            ..Default::default()
        };
        let created = app.transfers().create_transfer(authed(request.clone(), &admin)).await.expect("a pure recovery");
        let created = created.into_inner().transfer.expect("transfer");
        assert_eq!(created.status, i32::from(proto::TransferStatus::Paid));
        assert_eq!((created.amount.as_str(), created.recovered_amount.as_str()), ("0.00", amount));
        assert_eq!(created.gateway_transfer_id, "", "nothing went to the gateway");
        let again = app.transfers().create_transfer(authed(request, &admin)).await.expect("replay").into_inner();
        let again = again.transfer.expect("transfer");
        let what = |t: &proto::Transfer| (t.id.clone(), t.amount.clone(), t.recovered_amount.clone(), t.status);
        assert_eq!(what(&again), what(&created), "the retry answers the same transfer");
        repaid.push(created);
    }
    assert_eq!(calls(&fake, "POST", "/v1/transfers").len(), sent_before, "no transfer request for a pure recovery");
    for transfer in &repaid {
        let about = |r: &fake_stripe::RecordedRequest| {
            r.idempotency_key.as_deref() == Some(&format!("transfer-{}", transfer.id))
                || r.form.iter().any(|(_, v)| *v == transfer.id)
        };
        assert!(!fake.requests().iter().any(about), "no gateway request names {}", transfer.id);
    }
    assert_eq!(app.ledger_balance(&receivable).await, -2_500);
    assert_eq!(app.ledger_balance(&format!("vendor_pending:{account}:USD")).await, 0, "nothing credited");

    // What the platform hears: transfer.paid, nothing reached the vendor, all recovered.
    let events = EventServiceClient::new(app.channel.clone());
    let request = ListEventsRequest { object_id: repaid[0].id.clone(), limit: 10, ..Default::default() };
    let told = events.clone().list_events(authed(request, &admin)).await.expect("events").into_inner().events;
    assert_eq!(told.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(), ["transfer.paid"]);
    let data: serde_json::Value = serde_json::from_str(&told[0].data_json).expect("JSON");
    assert_eq!((&data["amount"], &data["recovered_amount"], &data["status"]), (&"0.00".into(), &"30.00".into(), &"paid".into()));

    // The third repays the last 25.00 and sends the rest to Stripe.
    let third = paid_transfer(&app, &fake, &account, ("60.00", "60.00")).await;
    assert_eq!((third.amount.as_str(), third.recovered_amount.as_str()), ("35.00", "25.00"));
    let sent = calls(&fake, "POST", "/v1/transfers");
    assert_eq!(sent.len(), sent_before + 1);
    assert_eq!(field(&sent[sent_before], "amount"), Some("3500"));
    assert_eq!(app.ledger_balance(&receivable).await, 0, "repaid in full, once");
    assert_eq!(app.ledger_balance(&format!("vendor_available:{account}:USD")).await, 3_500);
    app.assert_ledger_ok();
    app.stop().await;
}

pub(crate) fn reverse(transfer: &str, amount: &str, key: &str) -> ReverseTransferRequest {
    ReverseTransferRequest {
        transfer_id: transfer.into(),
        amount: amount.into(),
        description: String::new(),
        idempotency_key: key.into(),
    }
}

async fn transfers_and_reversals_survive_refusals_timeouts_and_changes_made_at_stripe(db: Db) {
    let recovery = [("GATEWAYS_STRIPE_TIMEOUT", "300ms"), ("GATEWAYS_STRIPE_MAX_RETRIES", "0"), ("RECOVERY_INTERVAL", "2s")];
    let (app, fake) = spawn_with_stripe(db, &recovery).await;
    let admin = token("ops", &[Role::Admin]);
    let (account, acct) = stripe_vendor(&app, &fake, &admin, "vendor-2").await;
    let payment_id = paid_stripe_payment(&app, &fake, "buyer-5", "100.00").await;
    let available = format!("vendor_available:{account}:USD");

    // Stripe does not answer: the transfer waits, then recovery sends it again.
    fake.hang_next("/v1/transfers", 1);
    let request = proto::CreateTransferRequest {
        connected_account_id: account.clone(),
        amount: "60.00".into(),
        currency: "USD".into(),
        payment_id: payment_id.clone(),
        idempotency_key: "tr-1".into(),
        ..Default::default()
    };
    let pending =
        app.transfers().create_transfer(authed(request, &admin)).await.expect("accepted").into_inner().transfer.unwrap();
    assert_eq!(pending.status, i32::from(proto::TransferStatus::Pending));
    let paid = transfer_when(&app, &admin, &pending.id, |t| t.status == i32::from(proto::TransferStatus::Paid)).await;
    let sent = calls(&fake, "POST", "/v1/transfers");
    assert!(sent.len() >= 2 && sent.iter().all(|r| r.idempotency_key == sent[0].idempotency_key), "{sent:?}");
    assert_eq!(fake.objects("transfer").len(), 1, "one transfer at Stripe");
    assert_eq!(field(&sent[0], "destination"), Some(acct.as_str()));
    assert_eq!(app.ledger_balance(&available).await, 6000);
    let reversals = format!("/v1/transfers/{}/reversals", paid.gateway_transfer_id);

    // Stripe refuses a reversal: the vendor keeps the money.
    fake.fail_next(&reversals, 400, 1);
    let refused = app.transfers().reverse_transfer(authed(reverse(&paid.id, "10.00", "rev-a"), &admin)).await;
    let refused = refused.expect("answered").into_inner();
    assert_eq!(refused.reversal.unwrap().status, "failed");
    let transfer = refused.transfer.unwrap();
    assert_eq!((transfer.reversed_amount.as_str(), transfer.status), ("0.00", i32::from(proto::TransferStatus::Paid)));
    assert_eq!(app.ledger_balance(&available).await, 6000);

    // Stripe does not answer a reversal: recovery asks again with the same key.
    fake.hang_next(&reversals, 1);
    let waiting = app.transfers().reverse_transfer(authed(reverse(&paid.id, "5.00", "rev-b"), &admin)).await;
    let waiting = waiting.expect("answered").into_inner().reversal.unwrap();
    assert_eq!(waiting.status, "pending");
    let reversed = transfer_when(&app, &admin, &paid.id, |t| t.reversed_amount == "5.00").await;
    assert_eq!(reversed.status, i32::from(proto::TransferStatus::PartiallyReversed));
    let fake_view = fake.clone();
    crate::helpers::eventually("the recovery job to reverse at Stripe", || {
        let made = fake_view.objects("transfer_reversal").len() == 1;
        async move { made.then_some(()) }
    })
    .await;
    crate::helpers::eventually("the reversal to settle", || {
        let mut transfers = app.transfers();
        let request = authed(reverse(&paid.id, "5.00", "rev-b"), &admin);
        async move {
            let reversal = transfers.reverse_transfer(request).await.ok()?.into_inner().reversal?;
            (reversal.status == "succeeded").then_some(())
        }
    })
    .await;
    assert_eq!(fake.objects("transfer_reversal").len(), 1, "one reversal at Stripe for every try");
    assert_eq!(app.ledger_balance(&available).await, 5500);

    // A reversal made in Stripe's dashboard reaches us through transfer.reversed.
    let http = reqwest::Client::new();
    let made_at_stripe = http
        .post(format!("{}{reversals}", fake.base_url()))
        .bearer_auth(API_KEY)
        .header("Stripe-Version", "2023-08-16")
        .header("Idempotency-Key", "dashboard-1")
        .form(&[("amount", "1500")])
        .send()
        .await
        .expect("fake answers");
    assert_eq!(made_at_stripe.status().as_u16(), 200);
    let at_stripe = fake.object(&paid.gateway_transfer_id).unwrap();
    let event = fake.event("transfer.reversed", at_stripe, None);
    for _ in 0..2 {
        let (status, answer) = deliver(&app, &event, PLATFORM_SECRET).await;
        assert_eq!(status, 200, "{answer}");
    }
    let after = transfer_when(&app, &admin, &paid.id, |t| t.reversed_amount == "20.00").await;
    assert_eq!(after.status, i32::from(proto::TransferStatus::PartiallyReversed));
    assert_eq!(app.ledger_balance(&available).await, 4000, "the dashboard's reversal counted once");

    // A payout Stripe did not answer cannot be canceled until recovery learns its id.
    fake.hang_next("/v1/payouts", 1);
    let waiting = app.payouts().create_payout(authed(payout(&account, "10.00", "po-w"), &admin)).await;
    let waiting = waiting.expect("accepted").into_inner().payout.unwrap();
    assert_eq!((waiting.status, waiting.gateway_payout_id.as_str()), (i32::from(proto::PayoutStatus::Pending), ""));
    assert_eq!(app.ledger_balance(&available).await, 3000, "set aside at once");
    let cancel = proto::CancelPayoutRequest { payout_id: waiting.id.clone() };
    let early = app.payouts().cancel_payout(authed(cancel.clone(), &admin)).await.expect_err("Stripe may have it");
    assert_eq!(early.code(), tonic::Code::FailedPrecondition, "{}", early.message());
    let payouts = app.payouts();
    crate::helpers::eventually("recovery to send the payout", || {
        let mut payouts = payouts.clone();
        let request = authed(GetPayoutRequest { payout_id: waiting.id.clone() }, &admin);
        async move {
            let payout = payouts.get_payout(request).await.ok()?.into_inner().payout?;
            (!payout.gateway_payout_id.is_empty()).then_some(())
        }
    })
    .await;
    assert_eq!(fake.objects("payout").len(), 1, "one payout at Stripe for two tries");
    let canceled = app.payouts().cancel_payout(authed(cancel, &admin)).await.expect("canceled").into_inner().payout.unwrap();
    assert_eq!(canceled.status, i32::from(proto::PayoutStatus::Canceled));
    assert_eq!(fake.objects("payout")[0]["status"], "canceled");
    assert_eq!(app.ledger_balance(&available).await, 4000);
    app.assert_ledger_ok();
    app.stop().await;
}
