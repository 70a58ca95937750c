use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::refund_service_client::RefundServiceClient;
use api::proto::{
    self, CancelEscrowHoldRequest, CreateRefundRequest, CreateSplitRuleRequest, GetEscrowByPaymentIdRequest,
    GetPaymentRefundsRequest, ListTransfersRequest, ProcessExpiredEscrowsRequest, ReleaseEscrowHoldRequest,
};
use app::Role;
use tonic::transport::Channel;

use crate::helpers::{Db, TestApp, authed, checkout_request, eventually, token};
use crate::marketplace::{admin, available_usd, paid_order, spawn_marketplace};
use crate::on_both_databases;

on_both_databases!(
    an_expired_hold_is_released_once_to_the_merchant_minus_the_fee,
    a_cancelled_hold_is_refunded_in_full,
    partial_refunds_never_exceed_the_payment,
    refunds_wait_for_transferred_money_and_pending_work_is_recovered,
    a_refused_refund_or_transfer_puts_the_money_back,
    a_release_call_cut_short_leaves_no_transfer_pending,
    a_refused_transfer_fails_alone_in_its_release_batch,
);

impl TestApp {
    pub fn escrow(&self) -> EscrowServiceClient<Channel> {
        EscrowServiceClient::new(self.channel.clone())
    }

    pub fn refunds(&self) -> RefundServiceClient<Channel> {
        RefundServiceClient::new(self.channel.clone())
    }

    /// A paid checkout of `amount` USD held in escrow for `merchant`; returns the payment id.
    pub async fn paid_escrowed_order(&self, merchant: &str, amount: &str) -> String {
        let buyer = token("buyer-1", &[Role::User]);
        let mut request = checkout_request("buyer-1", amount, "USD");
        request.escrow_enabled = true;
        request.escrow_hold_days = 3;
        request.merchant_id = merchant.to_owned();
        let created = self.create_checkout(&buyer, request).await.expect("escrowed checkout");
        let (status, _) = self.complete_on_mock_page(&created.session_id, "success").await;
        assert_eq!(status, 303);
        created.payment_id
    }

    pub async fn hold_of(&self, payment_id: &str) -> proto::EscrowHold {
        let request = GetEscrowByPaymentIdRequest { payment_id: payment_id.into() };
        self.escrow().get_escrow_by_payment_id(authed(request, &admin())).await.expect("hold").into_inner().escrow.expect("hold")
    }

    pub async fn process_expired(&self, limit: i32) -> i32 {
        let request = ProcessExpiredEscrowsRequest { limit };
        self.escrow().process_expired_escrows(authed(request, &admin())).await.expect("process").into_inner().released_count
    }
}

fn refund(payment_id: &str, amount: &str, key: &str) -> CreateRefundRequest {
    CreateRefundRequest {
        payment_id: payment_id.into(),
        amount: amount.into(),
        reason: "customer asked".into(),
        idempotency_key: key.into(),
    }
}

async fn an_expired_hold_is_released_once_to_the_merchant_minus_the_fee(db: Db) {
    // escrowed checkout → paid → hold → (hold_until in the past) → ProcessExpiredEscrows → transfer = amount − fee.
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let rule = CreateSplitRuleRequest {
        name: "10 %".into(),
        connected_account_id: account.clone(),
        r#type: proto::SplitRuleType::Percentage.into(),
        value: "10".into(),
        priority: 1,
        ..Default::default()
    };
    app.splits().create_split_rule(authed(rule, &admin)).await.expect("rule");
    let before = app.metrics().await;
    let payment_id = app.paid_escrowed_order(&account, "100.00").await;

    let hold = app.hold_of(&payment_id).await;
    assert_eq!((hold.status, hold.amount.as_str()), (i32::from(proto::EscrowStatus::Holding), "100.00"));
    let paid_at = app.get_payment(&admin, &payment_id).await.expect("payment").paid_at.expect("paid").seconds;
    assert_eq!(hold.hold_until.expect("until").seconds, paid_at + 3 * 86_400);
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 10_000);
    assert_eq!(app.process_expired(0).await, 0, "not expired yet");

    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    assert_eq!(app.process_expired(0).await, 1);
    assert_eq!(app.process_expired(0).await, 0, "released once");
    let hold = app.hold_of(&payment_id).await;
    assert_eq!(hold.status, i32::from(proto::EscrowStatus::Released));
    assert!(hold.released_at.is_some());

    let transfers = app
        .transfers()
        .list_transfers(authed(ListTransfersRequest { connected_account_id: account.clone(), limit: 10, offset: 0 }, &admin))
        .await
        .expect("transfers")
        .into_inner();
    assert_eq!(transfers.total, 1);
    let transfer = &transfers.transfers[0];
    assert_eq!((transfer.amount.as_str(), transfer.payment_id.as_str()), ("90.00", payment_id.as_str()));
    assert_eq!(transfer.status, i32::from(proto::TransferStatus::Paid));
    assert_eq!(app.ledger_balance("platform_fees:USD").await, 1_000);
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 0);
    assert_eq!(available_usd(&app, &account).await, "90.00");

    let before_refusals = app.row_counts().await;
    let again = app.escrow().release_escrow_hold(authed(ReleaseEscrowHoldRequest { escrow_id: hold.id.clone() }, &admin)).await;
    assert_eq!(again.expect_err("released twice").code(), tonic::Code::FailedPrecondition);
    let cancel = CancelEscrowHoldRequest { escrow_id: hold.id.clone(), reason: "too late".into() };
    assert_eq!(
        app.escrow().cancel_escrow_hold(authed(cancel, &admin)).await.expect_err("released").code(),
        tonic::Code::FailedPrecondition
    );
    assert_eq!(app.row_counts().await, before_refusals);
    assert_eq!(hold_events(&app, &hold.id).await, ["escrow.released", "escrow.held"], "one each, newest first");

    let after = app.metrics().await;
    let count = |metrics: &str, name: &str| -> f64 {
        metrics.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    assert!(count(&after, "escrow_holds_total") - count(&before, "escrow_holds_total") >= 1.0);
    assert!(count(&after, "escrow_releases_total") - count(&before, "escrow_releases_total") >= 1.0);
    assert!(count(&after, "transfers_total") - count(&before, "transfers_total") >= 1.0);

    for escrow_id in ["nope", ""] {
        let bad = app.escrow().get_escrow_hold(authed(proto::GetEscrowHoldRequest { escrow_id: escrow_id.into() }, &admin)).await;
        let bad = bad.expect_err("malformed id");
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().starts_with("escrow_id"));
    }
    let unknown = proto::GetEscrowHoldRequest { escrow_id: uuid::Uuid::new_v4().to_string() };
    assert_eq!(app.escrow().get_escrow_hold(authed(unknown, &admin)).await.expect_err("unknown").code(), tonic::Code::NotFound);
    let release_unknown = ReleaseEscrowHoldRequest { escrow_id: uuid::Uuid::new_v4().to_string() };
    let release_unknown = app.escrow().release_escrow_hold(authed(release_unknown, &admin)).await.expect_err("unknown");
    assert_eq!(release_unknown.code(), tonic::Code::NotFound);
    let cancel_unknown = CancelEscrowHoldRequest { escrow_id: uuid::Uuid::new_v4().to_string(), reason: String::new() };
    assert_eq!(
        app.escrow().cancel_escrow_hold(authed(cancel_unknown, &admin)).await.expect_err("unknown").code(),
        tonic::Code::NotFound
    );
    let too_many = ProcessExpiredEscrowsRequest { limit: 100_000 };
    let too_many = app.escrow().process_expired_escrows(authed(too_many, &admin)).await.expect_err("limit");
    assert!(too_many.message().starts_with("limit"));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_cancelled_hold_is_refunded_in_full(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = app.paid_escrowed_order(&account, "40.00").await;
    let hold = app.hold_of(&payment_id).await;

    let holding = app.refunds().create_refund(authed(refund(&payment_id, "", ""), &admin)).await.expect_err("escrow holding");
    assert_eq!(holding.code(), tonic::Code::FailedPrecondition);
    assert!(holding.message().contains("cancel"), "{}", holding.message());

    let cancel = CancelEscrowHoldRequest { escrow_id: hold.id.clone(), reason: "item never shipped".into() };
    let cancelled = app.escrow().cancel_escrow_hold(authed(cancel.clone(), &admin)).await.expect("cancel").into_inner();
    let cancelled = cancelled.escrow.expect("hold");
    assert_eq!(
        (cancelled.status, cancelled.cancellation_reason.as_str()),
        (i32::from(proto::EscrowStatus::Cancelled), "item never shipped")
    );
    assert_eq!(
        app.escrow().cancel_escrow_hold(authed(cancel, &admin)).await.expect_err("twice").code(),
        tonic::Code::FailedPrecondition
    );
    let release = ReleaseEscrowHoldRequest { escrow_id: hold.id.clone() };
    assert_eq!(
        app.escrow().release_escrow_hold(authed(release, &admin)).await.expect_err("cancelled").code(),
        tonic::Code::FailedPrecondition
    );
    assert_eq!(app.process_expired(0).await, 0);
    assert_eq!(hold_events(&app, &hold.id).await, ["escrow.cancelled", "escrow.held"], "one each, newest first");
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 4_000, "the money stays on the platform");

    let full =
        app.refunds().create_refund(authed(refund(&payment_id, "", "full"), &admin)).await.expect("full refund").into_inner();
    let full = full.refund.expect("refund");
    assert_eq!((full.status, full.amount.as_str()), (i32::from(proto::RefundStatus::Succeeded), "40.00"));
    assert!(full.gateway_refund_id.starts_with("re_"));
    let payment = app.get_payment(&admin, &payment_id).await.expect("payment");
    assert_eq!((payment.status, payment.refunded_amount.as_str()), (i32::from(proto::PaymentStatus::Refunded), "40.00"));
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 0);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn partial_refunds_never_exceed_the_payment(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = paid_order(&app, &account, "100.00").await;

    let buyer = token("buyer-1", &[Role::User]);
    let unpaid = app.create_checkout(&buyer, checkout_request("buyer-1", "5.00", "USD")).await.expect("checkout").payment_id;
    app.refunds().create_refund(authed(refund(&payment_id, "30.00", ""), &admin)).await.expect("first partial");
    let second =
        app.refunds().create_refund(authed(refund(&payment_id, "50.00", "r-2"), &admin)).await.expect("second").into_inner();
    let replay =
        app.refunds().create_refund(authed(refund(&payment_id, "50.00", "r-2"), &admin)).await.expect("replay").into_inner();
    assert_eq!(second.refund.expect("r").id, replay.refund.expect("r").id);
    let before = app.row_counts().await;
    let over = app.refunds().create_refund(authed(refund(&payment_id, "20.01", ""), &admin)).await.expect_err("over the rest");
    assert_eq!(over.code(), tonic::Code::FailedPrecondition);
    assert!(over.message().contains("20.00"), "{}", over.message());
    for (amount, field) in [("-1", "amount"), ("abc", "amount"), ("0.001", "amount")] {
        let bad = app.refunds().create_refund(authed(refund(&payment_id, amount, ""), &admin)).await.expect_err(amount);
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().starts_with(field));
    }
    let bad_id = app.refunds().create_refund(authed(refund("nope", "", ""), &admin)).await.expect_err("bad id");
    assert!(bad_id.message().starts_with("payment_id"));
    let unknown = app.refunds().create_refund(authed(refund(&uuid::Uuid::new_v4().to_string(), "", ""), &admin)).await;
    assert_eq!(unknown.expect_err("unknown").code(), tonic::Code::NotFound);
    let not_allowed = app.refunds().create_refund(authed(refund(&payment_id, "1.00", ""), &buyer)).await.expect_err("user role");
    assert_eq!(not_allowed.code(), tonic::Code::PermissionDenied);
    let pending = app.refunds().create_refund(authed(refund(&unpaid, "", ""), &admin)).await.expect_err("unpaid");
    assert_eq!(pending.code(), tonic::Code::FailedPrecondition);
    assert_eq!(app.row_counts().await, before, "refused refunds changed nothing");

    let refunds =
        app.refunds().get_payment_refunds(authed(GetPaymentRefundsRequest { payment_id: payment_id.clone() }, &buyer)).await;
    assert_eq!(refunds.expect("the buyer reads its refunds").into_inner().refunds.len(), 2);
    app.refunds().create_refund(authed(refund(&payment_id, "", ""), &admin)).await.expect("the rest");
    let payment = app.get_payment(&admin, &payment_id).await.expect("payment");
    assert_eq!((payment.status, payment.refunded_amount.as_str()), (i32::from(proto::PaymentStatus::Refunded), "100.00"));
    let after_full = app.refunds().create_refund(authed(refund(&payment_id, "0.01", ""), &admin)).await.expect_err("refunded");
    assert_eq!(after_full.code(), tonic::Code::FailedPrecondition);
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 0);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn refunds_wait_for_transferred_money_and_pending_work_is_recovered(db: Db) {
    let app = crate::helpers::spawn_app_with(db, &[("BALANCE_PENDING_DAYS", "2"), ("RECOVERY_INTERVAL", "100ms")]).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = paid_order(&app, &account, "100.00").await;
    let transfer = crate::marketplace::transfer_request(&account, "60.00", &payment_id);
    let transfer =
        app.transfers().create_transfer(authed(transfer, &admin)).await.expect("transfer").into_inner().transfer.expect("t");

    // 60.00 went to the vendor: only 40.00 is still on the platform for this payment.
    let over =
        app.refunds().create_refund(authed(refund(&payment_id, "40.01", ""), &admin)).await.expect_err("transferred money");
    assert!(over.message().contains("reverse the vendor's transfer"), "{}", over.message());
    let partial =
        app.refunds().create_refund(authed(refund(&payment_id, "40.00", ""), &admin)).await.expect("the rest on the platform");
    let partial = partial.into_inner().refund.expect("refund");

    // A crash between commit and the gateway call leaves both pending; the recovery
    // job sends them again.
    app.execute(&format!(
        "UPDATE transfers SET status = 'pending', gateway_transfer_id = NULL, paid_at = NULL, created_at = 0 WHERE id = '{}'",
        transfer.id
    ))
    .await;
    app.execute(&format!(
        "UPDATE refunds SET status = 'pending', gateway_refund_id = NULL, processed_at = NULL, created_at = 0 WHERE id = '{}'",
        partial.id
    ))
    .await;
    let (refund, transfer) = crate::helpers::eventually("the recovery job to settle the transfer and the refund", || {
        let (app, admin, refund_id, transfer_id) = (&app, &admin, partial.id.clone(), transfer.id.clone());
        async move {
            let refund = app.refunds().get_refund(authed(proto::GetRefundRequest { refund_id }, admin)).await.expect("refund");
            let transfer = app.transfers().get_transfer(authed(proto::GetTransferRequest { transfer_id }, admin)).await;
            let (refund, transfer) =
                (refund.into_inner().refund.expect("r"), transfer.expect("t").into_inner().transfer.expect("t"));
            (refund.status == i32::from(proto::RefundStatus::Succeeded)
                && transfer.status == i32::from(proto::TransferStatus::Paid))
            .then_some((refund, transfer))
        }
    })
    .await;
    assert!(refund.gateway_refund_id.starts_with("re_") && transfer.paid_at.is_some());
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_refused_refund_or_transfer_puts_the_money_back(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = paid_order(&app, &account, "50.00").await;

    let mut refused = refund(&payment_id, "20.00", "");
    refused.reason = "mock_failure:card_expired".into();
    let refused = app.refunds().create_refund(authed(refused, &admin)).await.expect("answered").into_inner().refund.expect("r");
    assert_eq!(refused.status, i32::from(proto::RefundStatus::Failed));
    let payment = app.get_payment(&admin, &payment_id).await.expect("payment");
    assert_eq!((payment.status, payment.refunded_amount.as_str()), (i32::from(proto::PaymentStatus::Succeeded), "0.00"));
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 5_000, "the refused refund's money is back");

    let mut doomed = crate::marketplace::transfer_request(&account, "30.00", &payment_id);
    doomed.description = "mock_failure:account_closed".into();
    let doomed =
        app.transfers().create_transfer(authed(doomed, &admin)).await.expect("answered").into_inner().transfer.expect("t");
    assert_eq!(doomed.status, i32::from(proto::TransferStatus::Failed));
    assert_eq!(available_usd(&app, &account).await, "0.00");
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 5_000, "the refused transfer's money is back");

    // Neither counts against the payment any more.
    app.transfers()
        .create_transfer(authed(crate::marketplace::transfer_request(&account, "30.00", &payment_id), &admin))
        .await
        .expect("transfer");
    app.refunds().create_refund(authed(refund(&payment_id, "20.00", ""), &admin)).await.expect("refund the rest");
    let payment = app.get_payment(&admin, &payment_id).await.expect("payment");
    assert_eq!(payment.refunded_amount, "20.00");
    app.assert_ledger_ok();
    app.stop().await;
}

/// A ProcessExpiredEscrows call whose client goes away mid-way still finishes the
/// holds it took, transfers included: none is left pending for the recovery job, and
/// the holds it did not take are released by the next call.
async fn a_release_call_cut_short_leaves_no_transfer_pending(db: Db) {
    const HOLDS: i64 = 12;
    let app = spawn_marketplace(db).await;
    let account = app.onboarded_account(&admin(), "merchant-1").await;
    for _ in 0..HOLDS {
        app.paid_escrowed_order(&account, "10.00").await;
    }
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    let released = "SELECT COUNT(*) AS n FROM escrow_holds WHERE status = 'released'";
    let mut client = app.escrow();
    let call = client.process_expired_escrows(authed(ProcessExpiredEscrowsRequest { limit: 0 }, &admin()));
    // The client gives up as soon as the first hold is released.
    let first_release = eventually("a first release", || async { (app.count(released).await > 0).then_some(()) });
    tokio::select! {
        _ = call => {},
        () = first_release => {},
    }
    let settled = eventually("every released hold's transfer settled", || async {
        let pending = app.count("SELECT COUNT(*) AS n FROM transfers WHERE status = 'pending'").await;
        let paid = app.count("SELECT COUNT(*) AS n FROM transfers WHERE status = 'paid'").await;
        (pending == 0 && paid == app.count(released).await).then_some(paid)
    })
    .await;
    assert!(settled > 0);
    assert_eq!(i64::from(app.process_expired(0).await), HOLDS - settled, "the rest, left holding");
    assert_eq!(app.count(released).await, HOLDS);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM transfers WHERE status = 'paid'").await, HOLDS);
    app.assert_ledger_ok();
    app.stop().await;
}

/// A release batch's transfers are settled together; the one the gateway refuses is
/// settled failed (its money back on the platform) beside its paid batch-mates.
async fn a_refused_transfer_fails_alone_in_its_release_batch(db: Db) {
    let app = spawn_marketplace(db).await;
    let (paid, refused) =
        (app.onboarded_account(&admin(), "merchant-1").await, app.onboarded_account(&admin(), "merchant-2").await);
    let mut payments = Vec::new();
    for merchant in [&paid, &refused, &paid, &refused, &paid] {
        payments.push(app.paid_escrowed_order(merchant, "10.00").await);
    }
    // The mock gateway refuses every transfer to this account.
    app.execute(&format!(
        "UPDATE connected_accounts SET gateway_account_id = 'mock_failure:account_closed' WHERE id = '{refused}'"
    ))
    .await;
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    let cash_before = app.ledger_balance("platform_cash:USD").await;
    assert_eq!(app.process_expired(0).await, 5, "one batch");
    let statuses = |account: &str| {
        let sql = format!("SELECT COUNT(*) AS n FROM transfers WHERE connected_account_id = '{account}' AND status = ");
        let app = &app;
        async move { (app.count(&format!("{sql}'paid'")).await, app.count(&format!("{sql}'failed'")).await) }
    };
    assert_eq!(statuses(&paid).await, (3, 0));
    assert_eq!(statuses(&refused).await, (0, 2));
    assert_eq!(available_usd(&app, &paid).await, "30.00");
    assert_eq!(available_usd(&app, &refused).await, "0.00");
    assert_eq!(app.ledger_balance("platform_cash:USD").await, cash_before + 2_000, "the refused transfers' money is back");
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 0);
    for payment_id in &payments {
        let hold = app.hold_of(payment_id).await;
        assert_eq!(hold_events(&app, &hold.id).await, ["escrow.released", "escrow.held"], "each hold of the batch");
    }
    app.assert_ledger_ok();
    app.stop().await;
}

/// The types of a hold's events, newest first.
async fn hold_events(app: &TestApp, hold_id: &str) -> Vec<String> {
    let request = proto::ListEventsRequest { object_id: hold_id.to_owned(), limit: 10, ..Default::default() };
    let mut events = api::proto::event_service_client::EventServiceClient::new(app.channel.clone());
    let told = events.list_events(authed(request, &admin())).await.expect("events").into_inner().events;
    told.into_iter().map(|event| event.r#type).collect()
}
