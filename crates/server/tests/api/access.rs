//! Who may see and do what: wallet and own-payment methods need the `user` role, and
//! an object a caller may not see answers like one that does not exist.

use std::fmt::Debug;

use api::proto::{
    self, CalculateFeeRequest, CancelPayoutRequest, CreateRefundRequest, DepositRequest, GetBalanceHistoryRequest,
    GetBalanceRequest, GetConnectedAccountRequest, GetEscrowByPaymentIdRequest, GetEscrowHoldRequest, GetPaymentRefundsRequest,
    GetPaymentRequest, GetPayoutRequest, GetRefundRequest, GetSplitRuleRequest, GetTransferRequest, GetUserPaymentsRequest,
    GetWalletRequest, ListPayoutsRequest, ListSplitRulesRequest, ListTransfersRequest, ListWalletTransactionsRequest,
    ReverseTransferRequest, UpdateSplitRuleRequest, WithdrawRequest,
};
use app::Role;
use tonic::Code;

use crate::helpers::{Db, authed, checkout_request, spawn_app, token};
use crate::marketplace::{admin, paid_order, payout_request, spawn_marketplace, transfer_request, wait_for_payout};
use crate::on_both_databases;

on_both_databases!(only_the_user_role_acts_on_a_wallet_and_its_own_payments, a_caller_learns_nothing_of_objects_it_may_not_see,);

/// Both calls fail alike, with `code`: same code, same message.
#[track_caller]
fn alike<A: Debug, B: Debug>(hidden: Result<A, tonic::Status>, absent: Result<B, tonic::Status>, code: Code, case: &str) {
    let (hidden, absent) = (hidden.expect_err(case), absent.expect_err(case));
    assert_eq!((hidden.code(), hidden.message()), (absent.code(), absent.message()), "{case}");
    assert_eq!(hidden.code(), code, "{case}: {}", hidden.message());
}

fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn only_the_user_role_acts_on_a_wallet_and_its_own_payments(db: Db) {
    let app = spawn_app(db).await;
    let paid = app.paid_checkout("user-9", "5.00", "USD").await;
    let before = app.row_counts().await;
    for (case, roles) in [("merchant", &[Role::Merchant][..]), ("no role", &[])] {
        let caller = token("user-9", roles);
        let denied = |result: Result<(), tonic::Status>, what: &str| {
            let status = result.expect_err(what);
            assert_eq!(status.code(), Code::PermissionDenied, "{case}: {what}: {}", status.message());
        };
        let wallet = GetWalletRequest { user_id: "user-9".into() };
        denied(app.wallet().get_wallet(authed(wallet, &caller)).await.map(drop), "GetWallet");
        let history = ListWalletTransactionsRequest { user_id: "user-9".into(), limit: 10, offset: 0 };
        denied(app.wallet().list_wallet_transactions(authed(history, &caller)).await.map(drop), "ListWalletTransactions");
        let withdraw =
            WithdrawRequest { user_id: "user-9".into(), amount: "1.00".into(), currency: "USD".into(), ..Default::default() };
        denied(app.wallet().withdraw(authed(withdraw, &caller)).await.map(drop), "Withdraw");
        let deposit = DepositRequest {
            user_id: "user-9".into(),
            amount: "1.00".into(),
            currency: "USD".into(),
            success_url: "https://wallet.example/ok".into(),
            cancel_url: "https://wallet.example/cancel".into(),
            ..Default::default()
        };
        denied(app.wallet().deposit(authed(deposit, &caller)).await.map(drop), "Deposit");
        denied(app.create_checkout(&caller, checkout_request("user-9", "1.00", "USD")).await.map(drop), "CreateCheckoutSession");
        denied(app.get_payment(&caller, &paid).await.map(drop), "GetPayment");
        let list = GetUserPaymentsRequest { user_id: "user-9".into(), limit: 10, offset: 0 };
        denied(app.payments().get_user_payments(authed(list, &caller)).await.map(drop), "GetUserPayments");

        let bearer = format!("Bearer {caller}");
        let json = app.http.get(app.url("/api/v1/balance")).header("authorization", &bearer).send().await.expect("balance");
        assert_eq!(json.status().as_u16(), 403, "{case}: GET /api/v1/balance");
        let withdraw = app
            .http
            .post(app.url("/api/v1/balance/withdraw"))
            .header("authorization", &bearer)
            .json(&serde_json::json!({"amount": "1.00", "currency": "USD"}))
            .send()
            .await
            .expect("withdraw");
        assert_eq!(withdraw.status().as_u16(), 403, "{case}: POST /api/v1/balance/withdraw");
    }
    assert_eq!(app.row_counts().await, before, "refused requests changed nothing");
    let user = token("user-9", &[Role::User]);
    assert_eq!(app.get_payment(&user, &paid).await.expect("the user reads its payment").user_id, "user-9");
    app.stop().await;
}

async fn a_caller_learns_nothing_of_objects_it_may_not_see(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let mine = app.onboarded_account(&admin, "merchant-1").await;
    let theirs = app.onboarded_account(&admin, "merchant-2").await;
    let payment = paid_order(&app, &theirs, "50.00").await;
    let transfer = app
        .transfers()
        .create_transfer(authed(transfer_request(&theirs, "20.00", &payment), &admin))
        .await
        .expect("transfer")
        .into_inner()
        .transfer
        .expect("transfer");
    let payout = app.payouts().create_payout(authed(payout_request(&theirs, "1.00"), &admin)).await.expect("payout");
    let payout = payout.into_inner().payout.expect("payout");
    // The mock pays it out in steps; once paid, nothing changes behind the test's back.
    wait_for_payout(&app, &payout.id, proto::PayoutStatus::Paid).await;
    let refund = CreateRefundRequest { payment_id: payment.clone(), amount: "1.00".into(), ..Default::default() };
    let refund = app.refunds().create_refund(authed(refund, &admin)).await.expect("refund").into_inner().refund.expect("refund");
    let escrowed = app.paid_escrowed_order(&theirs, "10.00").await;
    let hold = app.hold_of(&escrowed).await;
    let rule = |account: &str| proto::CreateSplitRuleRequest {
        name: "fee".into(),
        connected_account_id: account.into(),
        r#type: proto::SplitRuleType::Percentage.into(),
        value: "5".into(),
        priority: 1,
        ..Default::default()
    };
    let their_rule = app.splits().create_split_rule(authed(rule(&theirs), &admin)).await.expect("rule").into_inner();
    let their_rule = their_rule.split_rule.expect("rule").id;
    let platform_rule = app.splits().create_split_rule(authed(rule(""), &admin)).await.expect("rule").into_inner();
    let platform_rule = platform_rule.split_rule.expect("rule").id;
    let before = app.row_counts().await;

    // A user who is not the buyer: the buyer's payment, refund and hold are not found.
    let bob = token("bob", &[Role::User]);
    let payment_of = |id: &str| authed(GetPaymentRequest { payment_id: id.into() }, &bob);
    alike(
        app.payments().get_payment(payment_of(&payment)).await,
        app.payments().get_payment(payment_of(&random_id())).await,
        Code::NotFound,
        "GetPayment",
    );
    let refund_of = |id: &str, caller: &str| authed(GetRefundRequest { refund_id: id.into() }, caller);
    alike(
        app.refunds().get_refund(refund_of(&refund.id, &bob)).await,
        app.refunds().get_refund(refund_of(&random_id(), &bob)).await,
        Code::NotFound,
        "GetRefund",
    );
    let refunds_of = |id: &str| authed(GetPaymentRefundsRequest { payment_id: id.into() }, &bob);
    alike(
        app.refunds().get_payment_refunds(refunds_of(&payment)).await,
        app.refunds().get_payment_refunds(refunds_of(&random_id())).await,
        Code::NotFound,
        "GetPaymentRefunds",
    );
    let merchant = token("merchant-1", &[Role::Merchant]);
    for (case, caller) in [("user", &bob), ("merchant", &merchant)] {
        let hold_of = |id: &str| authed(GetEscrowHoldRequest { escrow_id: id.into() }, caller);
        alike(
            app.escrow().get_escrow_hold(hold_of(&hold.id)).await,
            app.escrow().get_escrow_hold(hold_of(&random_id())).await,
            Code::NotFound,
            &format!("GetEscrowHold by a {case}"),
        );
        let by_payment = |id: &str| authed(GetEscrowByPaymentIdRequest { payment_id: id.into() }, caller);
        alike(
            app.escrow().get_escrow_by_payment_id(by_payment(&escrowed)).await,
            app.escrow().get_escrow_by_payment_id(by_payment(&random_id())).await,
            Code::NotFound,
            &format!("GetEscrowByPaymentID by a {case}"),
        );
    }

    // Without the role, the answer comes before anything is loaded: no currency, no existence.
    let refund_by_bob =
        |id: &str| authed(CreateRefundRequest { payment_id: id.into(), amount: "0.001".into(), ..Default::default() }, &bob);
    alike(
        app.refunds().create_refund(refund_by_bob(&payment)).await,
        app.refunds().create_refund(refund_by_bob(&random_id())).await,
        Code::PermissionDenied,
        "CreateRefund",
    );
    let reverse = |id: &str| authed(ReverseTransferRequest { transfer_id: id.into(), ..Default::default() }, &merchant);
    alike(
        app.transfers().reverse_transfer(reverse(&transfer.id)).await,
        app.transfers().reverse_transfer(reverse(&random_id())).await,
        Code::PermissionDenied,
        "ReverseTransfer",
    );
    let transfer_of = |id: &str, caller: &str| authed(GetTransferRequest { transfer_id: id.into() }, caller);
    alike(
        app.transfers().get_transfer(transfer_of(&transfer.id, &bob)).await,
        app.transfers().get_transfer(transfer_of(&random_id(), &bob)).await,
        Code::PermissionDenied,
        "GetTransfer by a user",
    );
    alike(
        app.refunds().get_refund(refund_of(&refund.id, &merchant)).await,
        app.refunds().get_refund(refund_of(&random_id(), &merchant)).await,
        Code::PermissionDenied,
        "GetRefund by a merchant",
    );
    let cancel = |id: &str| authed(CancelPayoutRequest { payout_id: id.into() }, &merchant);
    alike(
        app.payouts().cancel_payout(cancel(&payout.id)).await,
        app.payouts().cancel_payout(cancel(&random_id())).await,
        Code::PermissionDenied,
        "CancelPayout",
    );
    let update = |id: &str| {
        authed(UpdateSplitRuleRequest { rule_id: id.into(), value: Some("-1".into()), ..Default::default() }, &merchant)
    };
    alike(
        app.splits().update_split_rule(update(&their_rule)).await,
        app.splits().update_split_rule(update(&random_id())).await,
        Code::PermissionDenied,
        "UpdateSplitRule",
    );

    // Another merchant's account and everything of it are not found for merchant-1.
    alike(
        app.transfers().get_transfer(transfer_of(&transfer.id, &merchant)).await,
        app.transfers().get_transfer(transfer_of(&random_id(), &merchant)).await,
        Code::NotFound,
        "GetTransfer",
    );
    let payout_of = |id: &str| authed(GetPayoutRequest { payout_id: id.into() }, &merchant);
    alike(
        app.payouts().get_payout(payout_of(&payout.id)).await,
        app.payouts().get_payout(payout_of(&random_id())).await,
        Code::NotFound,
        "GetPayout",
    );
    let rule_of = |id: &str| authed(GetSplitRuleRequest { rule_id: id.into() }, &merchant);
    for (case, id) in [("GetSplitRule of another account", &their_rule), ("GetSplitRule platform-wide", &platform_rule)] {
        alike(
            app.splits().get_split_rule(rule_of(id)).await,
            app.splits().get_split_rule(rule_of(&random_id())).await,
            Code::NotFound,
            case,
        );
    }
    let account = |id: &str| authed(GetConnectedAccountRequest { account_id: id.into() }, &merchant);
    alike(
        app.accounts().get_connected_account(account(&theirs)).await,
        app.accounts().get_connected_account(account(&random_id())).await,
        Code::NotFound,
        "GetConnectedAccount",
    );
    let balance = |id: &str| authed(GetBalanceRequest { account_id: id.into(), force_refresh: true }, &merchant);
    alike(
        app.balances().get_balance(balance(&theirs)).await,
        app.balances().get_balance(balance(&random_id())).await,
        Code::NotFound,
        "GetBalance",
    );
    let history = |id: &str| authed(GetBalanceHistoryRequest { account_id: id.into(), ..Default::default() }, &merchant);
    alike(
        app.balances().get_balance_history(history(&theirs)).await,
        app.balances().get_balance_history(history(&random_id())).await,
        Code::NotFound,
        "GetBalanceHistory",
    );
    let fee = |id: &str| {
        authed(CalculateFeeRequest { connected_account_id: id.into(), amount: "10.00".into(), currency: "USD".into() }, &merchant)
    };
    alike(
        app.splits().calculate_fee(fee(&theirs)).await,
        app.splits().calculate_fee(fee(&random_id())).await,
        Code::NotFound,
        "CalculateFee",
    );
    let transfers = |id: &str| authed(ListTransfersRequest { connected_account_id: id.into(), limit: 10, offset: 0 }, &merchant);
    alike(
        app.transfers().list_transfers(transfers(&theirs)).await,
        app.transfers().list_transfers(transfers(&random_id())).await,
        Code::NotFound,
        "ListTransfers",
    );
    let payouts = |id: &str| authed(ListPayoutsRequest { connected_account_id: id.into(), ..Default::default() }, &merchant);
    alike(
        app.payouts().list_payouts(payouts(&theirs)).await,
        app.payouts().list_payouts(payouts(&random_id())).await,
        Code::NotFound,
        "ListPayouts",
    );
    let rules = |id: &str| authed(ListSplitRulesRequest { connected_account_id: id.into(), limit: 10, offset: 0 }, &merchant);
    alike(
        app.splits().list_split_rules(rules(&theirs)).await,
        app.splits().list_split_rules(rules(&random_id())).await,
        Code::NotFound,
        "ListSplitRules",
    );
    assert_eq!(app.row_counts().await, before, "refused requests changed nothing");

    // Those who may see them still do.
    let buyer = token("buyer-1", &[Role::User]);
    assert_eq!(app.get_payment(&buyer, &payment).await.expect("the buyer reads its payment").id, payment);
    app.refunds().get_refund(refund_of(&refund.id, &buyer)).await.expect("the buyer reads its refund");
    let owner = token("merchant-2", &[Role::Merchant]);
    app.escrow().get_escrow_hold(authed(GetEscrowHoldRequest { escrow_id: hold.id.clone() }, &owner)).await.expect("its hold");
    app.transfers().get_transfer(transfer_of(&transfer.id, &owner)).await.expect("its transfer");
    app.splits().get_split_rule(authed(GetSplitRuleRequest { rule_id: their_rule }, &owner)).await.expect("its rule");
    app.accounts().get_connected_account(authed(GetConnectedAccountRequest { account_id: mine }, &merchant)).await.expect("own");
    app.assert_ledger_ok();
    app.stop().await;
}
