//! Disputes (chargebacks) through the real ports: Stripe's dispute events and
//! AllSecure's CHARGEBACK callbacks from the fakes, the mock's by trusted events.
//! An open dispute freezes the escrow; won releases it; lost takes the money.

use api::proto::dispute_service_client::DisputeServiceClient;
use api::proto::{
    self, CancelEscrowHoldRequest, CreateAccountLinkRequest, CreateSplitRuleRequest, GetBalanceRequest, GetDisputeRequest,
    ListDisputesRequest, ListTransfersRequest, ProcessWebhookEventRequest, ReleaseEscrowHoldRequest,
};
use app::Role;
use fake_stripe::FakeStripe;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::allsecure::{allsecure_checkout, debit_of, now, spawn_with_allsecure};
use crate::console::sign_in;
use crate::helpers::{Db, TestApp, authed, checkout_request, token};
use crate::marketplace::{admin, paid_order, spawn_marketplace, transfer_request};
use crate::on_both_databases;
use crate::pages::{WebSession, hidden};
use crate::stripe_support::{PLATFORM_SECRET, deliver, spawn_with_stripe, stripe_vendor};

on_both_databases!(
    a_stripe_dispute_freezes_the_hold_until_it_is_won,
    a_lost_stripe_dispute_takes_the_amount_and_the_fee_out_of_escrow,
    an_allsecure_chargeback_freezes_the_hold_and_its_reversal_releases_it,
    a_dispute_lost_after_release_is_owed_by_the_vendor_and_repaid_from_its_next_transfer,
    disputes_are_read_by_admins_and_services_only,
);

impl TestApp {
    pub fn disputes(&self) -> DisputeServiceClient<Channel> {
        DisputeServiceClient::new(self.channel.clone())
    }

    /// The disputes of one payment, newest first.
    pub async fn disputes_of(&self, payment_id: &str) -> Vec<proto::Dispute> {
        let request = ListDisputesRequest { payment_id: payment_id.into(), limit: 10, ..Default::default() };
        self.disputes().list_disputes(authed(request, &admin())).await.expect("disputes").into_inner().disputes
    }

    /// A manual release of the payment's hold, refused or not.
    async fn release_hold_of(&self, payment_id: &str) -> Result<proto::EscrowHold, tonic::Status> {
        let hold = self.hold_of(payment_id).await;
        let released = self.escrow().release_escrow_hold(authed(ReleaseEscrowHoldRequest { escrow_id: hold.id }, &admin())).await;
        released.map(|r| r.into_inner().escrow.expect("hold"))
    }
}

pub fn status(status: proto::DisputeStatus) -> i32 {
    i32::from(status)
}

/// A 10 % rule for the vendor, so a release pays a fee and a transfer.
async fn ten_percent(app: &TestApp, account: &str) {
    let rule = CreateSplitRuleRequest {
        name: "10 %".into(),
        connected_account_id: account.into(),
        r#type: proto::SplitRuleType::Percentage.into(),
        value: "10".into(),
        priority: 1,
        ..Default::default()
    };
    app.splits().create_split_rule(authed(rule, &admin())).await.expect("rule");
}

/// A Stripe checkout of 100.00 USD held in escrow for the vendor, paid by its event;
/// returns the payment id and its payment intent.
async fn escrowed_stripe_payment(app: &TestApp, fake: &FakeStripe, vendor: &str) -> (String, String) {
    let buyer = token("buyer-1", &[Role::User]);
    let mut request = checkout_request("buyer-1", "100.00", "USD");
    request.gateway_name = "stripe".into();
    request.escrow_enabled = true;
    request.escrow_hold_days = 3;
    request.merchant_id = vendor.into();
    let created = app.create_checkout(&buyer, request).await.expect("checkout");
    let session = fake.pay_session(&created.session_id).expect("paid");
    let (code, answer) = deliver(app, &fake.event("checkout.session.completed", session, None), PLATFORM_SECRET).await;
    assert_eq!(code, 200, "{answer}");
    let intent = app.get_payment(&admin(), &created.payment_id).await.expect("payment").gateway_payment_intent_id;
    (created.payment_id, intent)
}

/// Delivers a signed Stripe event twice: the second delivery changes nothing.
async fn deliver_twice(app: &TestApp, body: &[u8]) {
    let (code, answer) = deliver(app, body, PLATFORM_SECRET).await;
    assert_eq!(code, 200, "{answer}");
    let before = app.row_counts().await;
    let balances = (app.ledger_balance("platform_escrow:USD").await, app.ledger_balance("external:USD").await);
    let (code, answer) = deliver(app, body, PLATFORM_SECRET).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(app.row_counts().await, before, "a redelivered event changes nothing");
    assert_eq!((app.ledger_balance("platform_escrow:USD").await, app.ledger_balance("external:USD").await), balances);
}

/// The hold can be neither released nor cancelled, by hand or by the expiry job.
pub async fn assert_frozen(app: &TestApp, payment_id: &str) {
    let refused = app.release_hold_of(payment_id).await.expect_err("frozen");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("frozen"), "{}", refused.message());
    let hold = app.hold_of(payment_id).await;
    let cancel = CancelEscrowHoldRequest { escrow_id: hold.id, reason: "buyer complained".into() };
    let refused = app.escrow().cancel_escrow_hold(authed(cancel, &admin())).await.expect_err("frozen");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    assert_eq!(app.process_expired(0).await, 0, "an expired but disputed hold is not released");
    assert_eq!(app.hold_of(payment_id).await.status, i32::from(proto::EscrowStatus::Holding));
}

async fn a_stripe_dispute_freezes_the_hold_until_it_is_won(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let (vendor, _) = stripe_vendor(&app, &fake, &admin(), "vendor-1").await;
    ten_percent(&app, &vendor).await;
    let (payment_id, intent) = escrowed_stripe_payment(&app, &fake, &vendor).await;

    let dispute = fake.open_dispute(&intent, "fraudulent").expect("dispute at the fake");
    deliver_twice(&app, &fake.event("charge.dispute.created", dispute.clone(), None)).await;
    let disputes = app.disputes_of(&payment_id).await;
    assert_eq!(disputes.len(), 1, "one dispute however often it is reported");
    let opened = &disputes[0];
    assert_eq!(opened.status, status(proto::DisputeStatus::NeedsResponse));
    assert_eq!((opened.amount.as_str(), opened.fee.as_str(), opened.currency.as_str()), ("100.00", "15.00", "USD"));
    assert_eq!((opened.gateway_name.as_str(), opened.reason.as_str()), ("stripe", "fraudulent"));
    assert_eq!(opened.gateway_dispute_id, dispute["id"].as_str().unwrap());
    assert_frozen(&app, &payment_id).await;
    let hold_id = app.hold_of(&payment_id).await.id;
    let request = proto::ListEventsRequest { object_id: hold_id, limit: 10, ..Default::default() };
    let mut events = api::proto::event_service_client::EventServiceClient::new(app.channel.clone());
    let told = events.list_events(authed(request, &admin())).await.expect("events").into_inner().events;
    let types: Vec<&str> = told.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(types, ["escrow.frozen", "escrow.held"], "frozen once, however often the dispute is reported (newest first)");

    let won = fake.close_dispute(dispute["id"].as_str().unwrap(), "won").expect("closed");
    deliver_twice(&app, &fake.event("charge.dispute.closed", won, None)).await;
    let closed = &app.disputes_of(&payment_id).await[0];
    assert_eq!(closed.status, status(proto::DisputeStatus::Won));
    assert!(closed.closed_at.is_some());
    assert_eq!(app.ledger_balance("platform_expenses:USD").await, -1_500, "Stripe keeps its fee on a won dispute too");
    assert_eq!(app.process_expired(0).await, 1, "won: the expiry job releases it");
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(proto::EscrowStatus::Released));
    assert_eq!(
        app.ledger_balance(&format!("vendor_pending:{vendor}:USD")).await
            + app.ledger_balance(&format!("vendor_available:{vendor}:USD")).await,
        9_000
    );
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_lost_stripe_dispute_takes_the_amount_and_the_fee_out_of_escrow(db: Db) {
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let (vendor, _) = stripe_vendor(&app, &fake, &admin(), "vendor-1").await;
    let (payment_id, intent) = escrowed_stripe_payment(&app, &fake, &vendor).await;
    let external = app.ledger_balance("external:USD").await;
    let dispute = fake.open_dispute(&intent, "product_not_received").expect("dispute");
    deliver_twice(&app, &fake.event("charge.dispute.created", dispute.clone(), None)).await;

    let lost = fake.close_dispute(dispute["id"].as_str().unwrap(), "lost").expect("closed");
    deliver_twice(&app, &fake.event("charge.dispute.closed", lost, None)).await;
    let closed = &app.disputes_of(&payment_id).await[0];
    assert_eq!(closed.status, status(proto::DisputeStatus::Lost));
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 0, "the disputed amount left the escrow");
    assert_eq!(app.ledger_balance("platform_expenses:USD").await, -1_500, "the platform paid Stripe's fee");
    assert_eq!(app.ledger_balance("external:USD").await, external + 10_000 + 1_500);
    let hold = app.hold_of(&payment_id).await;
    assert_eq!(hold.status, i32::from(proto::EscrowStatus::Cancelled), "a lost dispute ends the hold");
    assert!(hold.cancellation_reason.contains("lost"), "{}", hold.cancellation_reason);
    assert_eq!(app.process_expired(0).await, 0);
    app.assert_ledger_ok();
    app.stop().await;
}

/// An AllSecure vendor's escrowed payment of 1500 RSD charged back (the callback
/// delivered twice); returns the payment id and its dispute, frozen.
pub async fn allsecure_chargeback(app: &TestApp, fake: &fake_ixopay::FakeIxopay) -> (String, proto::Dispute) {
    let admin = admin();
    let vendor = app.create_account(&admin, "prodavac-1").await;
    let link = CreateAccountLinkRequest {
        account_id: vendor.id.clone(),
        return_url: "https://market.example/registered".into(),
        refresh_url: "https://market.example/retry".into(),
    };
    app.accounts().create_account_link(authed(link, &admin)).await.expect("link");
    let register = fake.transactions().into_iter().find(|t| t["transactionType"] == "REGISTER").expect("register");
    let (code, _) =
        crate::allsecure::deliver(app, fake.callback(register["uuid"].as_str().unwrap(), "OK", &now()).unwrap()).await;
    assert_eq!(code, 200);

    let buyer = token("kupac-1", &[Role::User]);
    let mut request = allsecure_checkout("kupac-1", "1500");
    request.escrow_enabled = true;
    request.escrow_hold_days = 3;
    request.merchant_id = vendor.id.clone();
    let created = app.create_checkout(&buyer, request).await.expect("checkout");
    let debit = debit_of(fake, &created.payment_id)["uuid"].as_str().unwrap().to_owned();
    let (code, _) = crate::allsecure::deliver(app, fake.callback(&debit, "OK", &now()).unwrap()).await;
    assert_eq!(code, 200);

    let chargeback = fake.chargeback(&debit, &now()).expect("chargeback");
    for _ in 0..2 {
        let (code, text) = crate::allsecure::deliver(app, chargeback.clone()).await;
        assert_eq!((code, text.as_str()), (200, "OK"));
    }
    let mut disputes = app.disputes_of(&created.payment_id).await;
    assert_eq!(disputes.len(), 1);
    assert_eq!(disputes[0].status, status(proto::DisputeStatus::NeedsResponse));
    assert_eq!((disputes[0].amount.as_str(), disputes[0].currency.as_str()), ("1500.00", "RSD"));
    assert_frozen(app, &created.payment_id).await;
    (created.payment_id, disputes.remove(0))
}

async fn an_allsecure_chargeback_freezes_the_hold_and_its_reversal_releases_it(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let (payment_id, dispute) = allsecure_chargeback(&app, &fake).await;
    let reversal = fake.chargeback_reversal(&dispute.gateway_dispute_id, &now()).expect("reversal");
    for _ in 0..2 {
        let (code, text) = crate::allsecure::deliver(&app, reversal.clone()).await;
        assert_eq!((code, text.as_str()), (200, "OK"));
    }
    assert_eq!(app.disputes_of(&payment_id).await[0].status, status(proto::DisputeStatus::Won));
    assert_eq!(app.process_expired(0).await, 1, "won: released");
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(proto::EscrowStatus::Released));
    app.assert_ledger_ok();
    app.stop().await;
}

/// A dispute event about the mock gateway's payment, as a trusted caller sends it;
/// whether it changed something.
pub async fn mock_dispute_event(app: &TestApp, event_id: &str, event_type: &str, dispute: &Value) -> bool {
    let event = ProcessWebhookEventRequest {
        event_id: event_id.into(),
        event_type: event_type.into(),
        event_payload: dispute.to_string().into_bytes(),
        created_at: None,
        gateway_name: "mock".into(),
    };
    let service = token("backend", &[Role::Service]);
    app.payments().process_webhook_event(authed(event, &service)).await.expect("event").into_inner().success
}

async fn a_dispute_lost_after_release_is_owed_by_the_vendor_and_repaid_from_its_next_transfer(db: Db) {
    let app = spawn_marketplace(db).await;
    let vendor = app.onboarded_account(&admin(), "vendor-1").await;
    ten_percent(&app, &vendor).await;
    let payment_id = app.paid_escrowed_order(&vendor, "100.00").await;
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    assert_eq!(app.process_expired(0).await, 1);
    assert_eq!(app.ledger_balance("platform_fees:USD").await, 1_000);

    let intent = app.get_payment(&admin(), &payment_id).await.expect("payment").gateway_payment_intent_id;
    let mut dispute = json!({"id": "dp_mock_1", "object": "dispute", "amount": 10_000, "currency": "usd",
        "payment_intent": intent, "reason": "fraudulent", "status": "needs_response",
        "balance_transactions": [{"amount": -10_000, "fee": 0}]});
    assert!(mock_dispute_event(&app, "evt_dispute_1", "charge.dispute.created", &dispute).await);
    dispute["status"] = json!("lost");
    assert!(mock_dispute_event(&app, "evt_dispute_2", "charge.dispute.closed", &dispute).await);
    let before = app.row_counts().await;
    assert!(!mock_dispute_event(&app, "evt_dispute_3", "charge.dispute.closed", &dispute).await, "a closed dispute never moves");
    assert_eq!(app.row_counts().await["journal_entries"], before["journal_entries"], "lost once, whatever the event id");

    assert_eq!(app.disputes_of(&payment_id).await[0].status, status(proto::DisputeStatus::Lost));
    let receivable = format!("vendor_receivable:{vendor}:USD");
    assert_eq!(app.ledger_balance(&receivable).await, -9_000, "the vendor owes what it was transferred");
    assert_eq!(app.ledger_balance("platform_fees:USD").await, 0, "the platform gives back its fee");
    app.assert_ledger_ok();
    let balance = GetBalanceRequest { account_id: vendor.clone(), force_refresh: false };
    let balance = app.balances().get_balance(authed(balance, &admin())).await.expect("balance").into_inner().balances;
    assert_eq!(balance[0].receivable_amount, "90.00", "the debt is in the vendor's balance");
    let mut web = WebSession::new(&app);
    sign_in(&mut web, "ops", "role_admin").await;
    let page = web.get(&format!("/en/admin/accounts/{vendor}")).await;
    assert!(page.body.contains("owes $90.00"), "{}", page.body);

    // A release the debt takes whole repays it and sends nothing: a transfer of
    // 0.00, its 54.00 share (60.00 less the fee) recovered, paid at once.
    let vendor_before = credited(&app, &vendor).await;
    let swallowed = app.paid_escrowed_order(&vendor, "60.00").await;
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    assert_eq!(app.process_expired(0).await, 1);
    let newest = |app: &TestApp| {
        let request = ListTransfersRequest { connected_account_id: vendor.clone(), limit: 1, offset: 0 };
        let mut transfers = app.transfers();
        async move { transfers.list_transfers(authed(request, &admin())).await.expect("transfers").into_inner().transfers.remove(0) }
    };
    let recovered = newest(&app).await;
    assert_eq!(recovered.payment_id, swallowed);
    assert_eq!((recovered.amount.as_str(), recovered.recovered_amount.as_str()), ("0.00", "54.00"));
    assert_eq!(recovered.status, i32::from(proto::TransferStatus::Paid));
    assert_eq!(app.ledger_balance(&receivable).await, -3_600);
    assert_eq!(credited(&app, &vendor).await, vendor_before, "nothing reached the vendor");
    let page = web.get(&format!("/en/admin/accounts/{vendor}")).await;
    assert!(page.body.contains("$0.00<br><small class=\"recovered\">repaid debt $54.00</small>"), "{}", page.body);

    // The next release repays the rest of the debt first; the vendor is credited the rest.
    let next = app.paid_escrowed_order(&vendor, "150.00").await;
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    assert_eq!(app.process_expired(0).await, 1);
    assert_eq!(app.ledger_balance(&receivable).await, 0, "recovered: 36.00 of the 135.00 due to the vendor");
    assert_eq!(credited(&app, &vendor).await - vendor_before, 9_900);
    let transfer = newest(&app).await;
    assert_eq!((transfer.payment_id.as_str(), transfer.amount.as_str()), (next.as_str(), "99.00"));
    assert_eq!(transfer.recovered_amount, "36.00");
    let sale = paid_order(&app, &vendor, "60.00").await;

    // Recovered once: a transfer afterwards is credited in full.
    let later = app.transfers().create_transfer(authed(transfer_request(&vendor, "50.00", &sale), &admin())).await;
    assert_eq!(later.expect("no debt left").into_inner().transfer.expect("transfer").amount, "50.00");
    assert_eq!(app.ledger_balance(&receivable).await, 0);
    app.assert_ledger_ok();

    // The console refunds 20.00 of the payment whose transfer the debt took whole:
    // reversing that transfer gives back 20.00 of the debt it repaid (owed again),
    // then the platform refunds the buyer.
    let detail = web.get(&format!("/en/admin/payments/{swallowed}")).await;
    let form = [
        ("csrf", hidden(&detail.body, "csrf")),
        ("amount", "20.00".into()),
        ("reason", "late".into()),
        ("idempotency_key", hidden(&detail.body, "idempotency_key")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refunded = web.post(&format!("/en/admin/payments/{swallowed}/refund"), &form).await;
    assert_eq!(refunded.status, 303, "{}", refunded.body);
    assert_eq!(app.get_payment(&admin(), &swallowed).await.expect("payment").refunded_amount, "20.00");
    let reversed = transfer_of_payment(&app, &vendor, &swallowed).await;
    assert_eq!((reversed.reversed_amount.as_str(), reversed.reversed_recovered_amount.as_str()), ("20.00", "20.00"));
    assert_eq!(app.ledger_balance(&receivable).await, -2_000, "the 20.00 it repaid is owed again");
    let balance = GetBalanceRequest { account_id: vendor.clone(), force_refresh: false };
    let balance = app.balances().get_balance(authed(balance, &admin())).await.expect("balance").into_inner().balances;
    assert_eq!(balance[0].receivable_amount, "20.00");
    let page = web.get(&format!("/en/admin/accounts/{vendor}")).await;
    assert!(
        page.body.contains("repaid debt $54.00</small><br><small class=\"recovered\">reversed, owed again $20.00</small>"),
        "{}",
        page.body
    );
    let page = web.get(&format!("/sr/admin/accounts/{vendor}")).await;
    assert!(page.body.contains("stornirano, ponovo dug"), "{}", page.body);
    app.assert_ledger_ok();
    app.stop().await;
}

/// The vendor's transfer of a payment.
async fn transfer_of_payment(app: &TestApp, vendor: &str, payment_id: &str) -> proto::Transfer {
    let request = ListTransfersRequest { connected_account_id: vendor.into(), limit: 100, offset: 0 };
    let transfers = app.transfers().list_transfers(authed(request, &admin())).await.expect("transfers").into_inner().transfers;
    transfers.into_iter().find(|t| t.payment_id == payment_id).expect("the payment's transfer")
}

/// What the vendor was credited and still has: its pending and available balances.
async fn credited(app: &TestApp, vendor: &str) -> i64 {
    app.ledger_balance(&format!("vendor_pending:{vendor}:USD")).await
        + app.ledger_balance(&format!("vendor_available:{vendor}:USD")).await
}

async fn disputes_are_read_by_admins_and_services_only(db: Db) {
    let app = spawn_marketplace(db).await;
    let payment_id = app.paid_checkout("buyer-1", "20.00", "USD").await;
    let intent = app.get_payment(&admin(), &payment_id).await.expect("payment").gateway_payment_intent_id;
    let dispute = json!({"id": "dp_mock_2", "amount": 2_000, "currency": "usd", "payment_intent": intent,
        "reason": "duplicate", "status": "warning_needs_response"});
    assert!(mock_dispute_event(&app, "evt_dispute_4", "charge.dispute.created", &dispute).await);
    let id = app.disputes_of(&payment_id).await[0].id.clone();

    let service = token("backend", &[Role::Service]);
    let read = app.disputes().get_dispute(authed(GetDisputeRequest { dispute_id: id.clone() }, &service)).await;
    assert_eq!(read.expect("service reads").into_inner().dispute.expect("dispute").payment_id, payment_id);
    for caller in [token("buyer-1", &[Role::User]), token("vendor", &[Role::Merchant]), token("nobody", &[])] {
        let hidden = app.disputes().get_dispute(authed(GetDisputeRequest { dispute_id: id.clone() }, &caller)).await;
        assert_eq!(hidden.expect_err("hidden").code(), tonic::Code::NotFound);
        let list = app.disputes().list_disputes(authed(ListDisputesRequest::default(), &caller)).await;
        assert_eq!(list.expect_err("denied").code(), tonic::Code::PermissionDenied);
    }
    let bad = app.disputes().get_dispute(authed(GetDisputeRequest { dispute_id: "nope".into() }, &service)).await;
    assert!(bad.expect_err("bad id").message().starts_with("dispute_id"));
    let filtered = ListDisputesRequest { status: status(proto::DisputeStatus::Lost), limit: 10, ..Default::default() };
    let none = app.disputes().list_disputes(authed(filtered, &service)).await.expect("list").into_inner();
    assert_eq!(none.total, 0, "the status filter applies");
    // The console lists it and shows it on its payment, in the page's language.
    let mut web = WebSession::new(&app);
    sign_in(&mut web, "ops", "role_admin").await;
    let list = web.get("/sr/admin/disputes").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Čeka odgovor") && list.body.contains(&payment_id), "{}", list.body);
    let payment = web.get(&format!("/ru/admin/payments/{payment_id}")).await;
    assert!(payment.body.contains("Ждёт ответа") && payment.body.contains("dp_mock_2"), "{}", payment.body);
    let mut buyer = WebSession::new(&app);
    sign_in(&mut buyer, "buyer-1", "role_user").await;
    assert_eq!(buyer.get("/en/admin/disputes").await.status, 403);
    let unknown = ListDisputesRequest { status: 99, ..Default::default() };
    assert_eq!(
        app.disputes().list_disputes(authed(unknown, &service)).await.expect_err("bad").code(),
        tonic::Code::InvalidArgument
    );
    app.assert_ledger_ok();
    app.stop().await;
}
