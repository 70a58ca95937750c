use api::proto::event_service_client::EventServiceClient;
use api::proto::{
    self, CalculateFeeRequest, CreatePayoutRequest, CreateSplitRuleRequest, CreateTransferRequest, GetBalanceRequest,
    GetConnectedAccountRequest, GetPayoutRequest, ListEventsRequest, ReverseTransferRequest,
};
use app::Role;

use crate::helpers::{Db, TestApp, authed, checkout_request, spawn_app_with, token};
use crate::on_both_databases;

on_both_databases!(
    a_vendor_is_onboarded_paid_and_paid_out_with_the_fee_kept_by_the_platform,
    concurrent_payouts_never_overdraw_the_balance,
    transfers_and_reversals_never_exceed_what_is_left,
    payouts_can_be_canceled_while_pending_and_failed_ones_return_their_money,
);

/// Fast mock payouts and funds available at once, so a test can see a payout paid.
pub async fn spawn_marketplace(db: Db) -> TestApp {
    spawn_app_with(db, &[("BALANCE_PENDING_DAYS", "0"), ("GATEWAYS_MOCK_PAYOUT_STEP", "50ms")]).await
}

pub fn admin() -> String {
    token("ops", &[Role::Admin])
}

/// A succeeded checkout of `amount` USD paid to `merchant`.
pub async fn paid_order(app: &TestApp, merchant: &str, amount: &str) -> String {
    let buyer = token("buyer-1", &[Role::User]);
    let mut request = checkout_request("buyer-1", amount, "USD");
    request.merchant_id = merchant.to_owned();
    let created = app.create_checkout(&buyer, request).await.expect("checkout");
    let (status, _) = app.complete_on_mock_page(&created.session_id, "success").await;
    assert_eq!(status, 303);
    created.payment_id
}

pub fn transfer_request(account: &str, amount: &str, payment_id: &str) -> CreateTransferRequest {
    CreateTransferRequest {
        connected_account_id: account.into(),
        amount: amount.into(),
        currency: "USD".into(),
        payment_id: payment_id.into(),
        ..Default::default()
    }
}

pub fn payout_request(account: &str, amount: &str) -> CreatePayoutRequest {
    CreatePayoutRequest {
        connected_account_id: account.into(),
        amount: amount.into(),
        currency: "USD".into(),
        method: proto::PayoutMethod::Standard.into(),
        statement_descriptor: "VONDI PAYOUT".into(),
        ..Default::default()
    }
}

pub async fn available_usd(app: &TestApp, account: &str) -> String {
    let balances = app
        .balances()
        .get_balance(authed(GetBalanceRequest { account_id: account.into(), force_refresh: false }, &admin()))
        .await
        .expect("balance")
        .into_inner()
        .balances;
    balances.into_iter().find(|b| b.currency == "USD").map(|b| b.available_amount).unwrap_or_else(|| "0.00".into())
}

/// Polls until the mock gateway has moved the payout to `status`.
pub async fn wait_for_payout(app: &TestApp, payout_id: &str, status: proto::PayoutStatus) -> proto::Payout {
    crate::helpers::eventually(&format!("payout {payout_id} to become {status:?}"), || async {
        let request = authed(GetPayoutRequest { payout_id: payout_id.into() }, &admin());
        let payout = app.payouts().get_payout(request).await.expect("payout").into_inner().payout.expect("payout");
        (payout.status == i32::from(status)).then_some(payout)
    })
    .await
}

async fn a_vendor_is_onboarded_paid_and_paid_out_with_the_fee_kept_by_the_platform(db: Db) {
    // account → onboarding page → paid checkout → fee → transfer → reversal → balance → payout → paid.
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.create_account(&admin, "merchant-1").await;
    assert_eq!(account.status, i32::from(proto::ConnectedAccountStatus::Pending));
    assert!(account.stripe_account_id.starts_with("acct_"));

    let link = proto::CreateAccountLinkRequest {
        account_id: account.id.clone(),
        return_url: "https://market.example/onboarded".into(),
        refresh_url: "https://market.example/retry".into(),
    };
    let link = app.accounts().create_account_link(authed(link, &admin)).await.expect("link").into_inner();
    assert!(link.url.contains("/connect/mock/onboarding?account_id="), "{}", link.url);
    assert!(link.expires_at.is_some_and(|t| t.seconds > chrono::Utc::now().timestamp()));
    // Opening the page changes nothing: it names the vendor and waits for the button.
    let before = app.row_counts().await;
    let page = app.http.get(&link.url).send().await.expect("onboarding page");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("page");
    assert!(page.contains("merchant-1@vendors.example") && page.contains("id=\"complete\""), "{page}");
    assert!(page.contains("href=\"https://market.example/retry\" id=\"cancel\""), "{page}");
    assert_eq!(app.row_counts().await, before);
    let response = app.complete_onboarding(&link.url).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "https://market.example/onboarded");
    let merchant = token("merchant-1", &[Role::Merchant]);
    let onboarded = app
        .accounts()
        .get_connected_account(authed(GetConnectedAccountRequest { account_id: account.id.clone() }, &merchant))
        .await
        .expect("the merchant reads its account")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(onboarded.status, i32::from(proto::ConnectedAccountStatus::Active));
    assert!(onboarded.charges_enabled && onboarded.payouts_enabled && onboarded.details_submitted);
    // The link is single-use: its page is gone, and a second submit goes to the refresh URL.
    assert_eq!(app.http.get(&link.url).send().await.expect("page again").status().as_u16(), 410);
    let again = app.complete_onboarding(&link.url).await;
    assert_eq!(again.headers()["location"], "https://market.example/retry");
    // An expired link also goes to the refresh URL, and changes nothing.
    let fresh = proto::CreateAccountLinkRequest {
        account_id: account.id.clone(),
        return_url: "https://market.example/onboarded".into(),
        refresh_url: "https://market.example/expired".into(),
    };
    let fresh = app.accounts().create_account_link(authed(fresh, &admin)).await.expect("link").into_inner();
    app.execute("UPDATE account_links SET expires_at = 0 WHERE used_at IS NULL").await;
    let before = app.row_counts().await;
    assert_eq!(app.http.get(&fresh.url).send().await.expect("expired page").status().as_u16(), 410);
    let expired = app.complete_onboarding(&fresh.url).await;
    assert_eq!(expired.headers()["location"], "https://market.example/expired");
    assert_eq!(app.row_counts().await, before);

    let rule = CreateSplitRuleRequest {
        name: "marketplace fee".into(),
        connected_account_id: account.id.clone(),
        r#type: proto::SplitRuleType::Percentage.into(),
        value: "10".into(),
        priority: 1,
        ..Default::default()
    };
    app.splits().create_split_rule(authed(rule, &admin)).await.expect("rule");
    let payment_id = paid_order(&app, &account.id, "100.00").await;

    let quote = CalculateFeeRequest { connected_account_id: account.id.clone(), amount: "100.00".into(), currency: "USD".into() };
    let quote = app.splits().calculate_fee(authed(quote, &admin)).await.expect("fee").into_inner();
    assert_eq!((quote.total_fee.as_str(), quote.transfer_amount.as_str()), ("10.00", "90.00"));
    assert_eq!(quote.applied_rules.len(), 1);

    let transfer = app
        .transfers()
        .create_transfer(authed(transfer_request(&account.id, &quote.transfer_amount, &payment_id), &admin))
        .await
        .expect("transfer")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(transfer.status, i32::from(proto::TransferStatus::Paid));
    assert_eq!(transfer.gateway_transfer_id, format!("tr_mock_{}", transfer.id.replace('-', "")));
    // The mock made it without a call and it was written paid at once; the platform
    // hears what a gateway's later answer tells: created (pending), then paid.
    let mut events = EventServiceClient::new(app.channel.clone());
    let request = ListEventsRequest { object_id: transfer.id.clone(), limit: 10, ..Default::default() };
    let told = events.list_events(authed(request, &admin)).await.expect("events").into_inner().events;
    let told: Vec<_> = told
        .iter()
        .rev()
        .map(|event| {
            let data: serde_json::Value = serde_json::from_str(&event.data_json).expect("JSON");
            (event.r#type.clone(), data["status"].clone(), data["gateway_transfer_id"].clone())
        })
        .collect();
    let made = serde_json::Value::from(transfer.gateway_transfer_id.clone());
    assert_eq!(
        told,
        [("transfer.created".into(), "pending".into(), serde_json::Value::Null), ("transfer.paid".into(), "paid".into(), made)]
    );
    assert_eq!(app.ledger_balance("platform_fees:USD").await, 1000, "the fee is in the platform's fee account");
    assert_eq!(app.ledger_balance("platform_cash:USD").await, 0);

    let reversal = ReverseTransferRequest { transfer_id: transfer.id.clone(), amount: "20.00".into(), ..Default::default() };
    let reversed = app.transfers().reverse_transfer(authed(reversal, &admin)).await.expect("reversal").into_inner();
    let reversed_transfer = reversed.transfer.expect("transfer");
    assert_eq!(reversed_transfer.status, i32::from(proto::TransferStatus::PartiallyReversed));
    assert_eq!(reversed_transfer.reversed_amount, "20.00");
    assert_eq!(available_usd(&app, &account.id).await, "70.00");

    let payout =
        app.payouts().create_payout(authed(payout_request(&account.id, "50.00"), &admin)).await.expect("payout").into_inner();
    let payout = payout.payout.expect("payout");
    assert_eq!((payout.status, payout.fee_amount.as_str()), (i32::from(proto::PayoutStatus::Pending), "0.00"));
    let paid = wait_for_payout(&app, &payout.id, proto::PayoutStatus::Paid).await;
    assert!(paid.paid_at.is_some());
    assert_eq!(available_usd(&app, &account.id).await, "20.00");

    let refused =
        app.payouts().create_payout(authed(payout_request(&account.id, "30.00"), &admin)).await.expect_err("over the balance");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("insufficient_funds"), "{}", refused.message());
    assert_eq!(available_usd(&app, &account.id).await, "20.00");
    assert_eq!(app.ledger_balance("external:USD").await, -10000 + 5000, "the buyer paid 100, the vendor's bank got 50");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn concurrent_payouts_never_overdraw_the_balance(db: Db) {
    // 20 payouts at once, each 10 % of the balance plus a cent: at most 9 fit.
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-2").await;
    let payment_id = paid_order(&app, &account, "100.00").await;
    app.transfers().create_transfer(authed(transfer_request(&account, "100.00", &payment_id), &admin)).await.expect("transfer");
    assert_eq!(available_usd(&app, &account).await, "100.00");

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let mut client = app.payouts();
            let request = authed(payout_request(&account, "10.01"), &admin);
            tokio::spawn(async move { client.create_payout(request).await })
        })
        .collect();
    let (mut paid, mut refused) = (0, 0);
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => paid += 1,
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{}", status.message());
                assert!(status.message().contains("insufficient_funds"));
                refused += 1;
            }
        }
    }
    assert_eq!((paid, refused), (9, 11));
    assert_eq!(available_usd(&app, &account).await, "9.91");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn transfers_and_reversals_never_exceed_what_is_left(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-3").await;
    let payment_id = paid_order(&app, &account, "50.00").await;
    let before = app.row_counts().await;

    let over = app.transfers().create_transfer(authed(transfer_request(&account, "50.01", &payment_id), &admin)).await;
    let over = over.expect_err("more than the payment left");
    assert_eq!(over.code(), tonic::Code::FailedPrecondition);
    assert!(over.message().contains("left on the platform"), "{}", over.message());
    let unlinked = app.transfers().create_transfer(authed(transfer_request(&account, "50.01", ""), &admin)).await;
    assert!(unlinked.expect_err("platform cash is 50.00").message().contains("insufficient_funds"));
    assert_eq!(app.row_counts().await, before, "refused transfers wrote nothing");

    let mut first = transfer_request(&account, "30.00", &payment_id);
    first.idempotency_key = "t-1".into();
    let t1 =
        app.transfers().create_transfer(authed(first.clone(), &admin)).await.expect("first").into_inner().transfer.expect("t");
    let replay = app.transfers().create_transfer(authed(first, &admin)).await.expect("replay").into_inner().transfer.expect("t");
    assert_eq!(t1.id, replay.id, "the same key returns the first transfer");
    let rest = app.transfers().create_transfer(authed(transfer_request(&account, "20.01", &payment_id), &admin)).await;
    assert!(rest.expect_err("only 20.00 left").message().contains("20.00"));
    app.transfers().create_transfer(authed(transfer_request(&account, "20.00", &payment_id), &admin)).await.expect("the rest");

    let reverse = |amount: &str, key: &str| ReverseTransferRequest {
        transfer_id: t1.id.clone(),
        amount: amount.into(),
        idempotency_key: key.into(),
        ..Default::default()
    };
    app.transfers().reverse_transfer(authed(reverse("10.00", "r-1"), &admin)).await.expect("partial");
    let replayed =
        app.transfers().reverse_transfer(authed(reverse("10.00", "r-1"), &admin)).await.expect("replayed").into_inner();
    assert_eq!(replayed.transfer.expect("t").reversed_amount, "10.00", "no second effect");
    let too_much = app.transfers().reverse_transfer(authed(reverse("20.01", ""), &admin)).await.expect_err("over the rest");
    assert_eq!(too_much.code(), tonic::Code::FailedPrecondition);
    let all = app.transfers().reverse_transfer(authed(reverse("", ""), &admin)).await.expect("the rest").into_inner();
    let all = all.transfer.expect("t");
    assert_eq!((all.status, all.reversed_amount.as_str()), (i32::from(proto::TransferStatus::Reversed), "30.00"));
    let again = app.transfers().reverse_transfer(authed(reverse("", ""), &admin)).await.expect_err("nothing left");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    // A reversed transfer gives the payment's money back to the platform to transfer again.
    app.transfers().create_transfer(authed(transfer_request(&account, "30.00", &payment_id), &admin)).await.expect("re-transfer");
    assert_eq!(available_usd(&app, &account).await, "50.00");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn payouts_can_be_canceled_while_pending_and_failed_ones_return_their_money(db: Db) {
    // Each payout state lasts at least one step: long enough for the cancel and the
    // ledger reads below to land in it on a loaded machine.
    let app = spawn_app_with(db, &[("BALANCE_PENDING_DAYS", "0"), ("GATEWAYS_MOCK_PAYOUT_STEP", "3s")]).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-4").await;
    let payment_id = paid_order(&app, &account, "200.00").await;
    app.transfers().create_transfer(authed(transfer_request(&account, "200.00", &payment_id), &admin)).await.expect("transfer");

    let mut instant = payout_request(&account, "100.00");
    instant.method = proto::PayoutMethod::Instant.into();
    let instant = app.payouts().create_payout(authed(instant, &admin)).await.expect("instant").into_inner().payout.expect("p");
    assert_eq!(instant.fee_amount, "1.00", "1 % for instant payouts");
    assert_eq!(available_usd(&app, &account).await, "99.00");
    let canceled = app
        .payouts()
        .cancel_payout(authed(proto::CancelPayoutRequest { payout_id: instant.id.clone() }, &admin))
        .await
        .expect("cancel while pending")
        .into_inner()
        .payout
        .expect("p");
    assert_eq!(canceled.status, i32::from(proto::PayoutStatus::Canceled));
    assert_eq!(available_usd(&app, &account).await, "200.00", "amount and fee came back");
    assert_eq!(app.ledger_balance("platform_fees:USD").await, 0);

    let mut doomed = payout_request(&account, "40.00");
    doomed.metadata = [("mock_failure_code".to_owned(), "account_closed".to_owned())].into();
    let doomed = app.payouts().create_payout(authed(doomed, &admin)).await.expect("payout").into_inner().payout.expect("p");
    wait_for_payout(&app, &doomed.id, proto::PayoutStatus::InTransit).await;
    let cancel = app.payouts().cancel_payout(authed(proto::CancelPayoutRequest { payout_id: doomed.id.clone() }, &admin)).await;
    assert_eq!(cancel.expect_err("in transit").code(), tonic::Code::FailedPrecondition);
    assert_eq!(app.ledger_balance(&format!("payout_in_transit:{account}:USD")).await, 4000, "in transit is a ledger state");
    assert_eq!(app.ledger_balance(&format!("payout_pending:{account}:USD")).await, 0);
    let failed = wait_for_payout(&app, &doomed.id, proto::PayoutStatus::Failed).await;
    assert_eq!(failed.failure_code, "account_closed");
    assert!(!failed.failure_message.is_empty());
    assert_eq!(available_usd(&app, &account).await, "200.00");
    app.assert_ledger_ok();
    app.stop().await;
}
