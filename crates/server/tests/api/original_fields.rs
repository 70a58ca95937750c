//! A client written against the original service reads the original's field names:
//! `stripe_account_id` and a currency per amount on balance snapshots, the gateway
//! account and `stripe_payout_id` on payouts, `stripe_transfer_id` on transfers.

use api::proto::{self, GetBalanceRequest, GetPayoutRequest};

use crate::helpers::{Db, authed};
use crate::marketplace::{admin, paid_order, payout_request, spawn_marketplace, transfer_request, wait_for_payout};
use crate::on_both_databases;

on_both_databases!(balances_payouts_and_transfers_carry_the_original_fields);

async fn balances_payouts_and_transfers_carry_the_original_fields(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let request = proto::GetConnectedAccountRequest { account_id: account.clone() };
    let gateway_account = app
        .accounts()
        .get_connected_account(authed(request, &admin))
        .await
        .expect("account")
        .into_inner()
        .account
        .expect("account");
    let acct = gateway_account.stripe_account_id;
    assert!(acct.starts_with("acct_"), "{acct}");

    let payment_id = paid_order(&app, &account, "100.00").await;
    let transfer = app
        .transfers()
        .create_transfer(authed(transfer_request(&account, "60.00", &payment_id), &admin))
        .await
        .expect("transfer")
        .into_inner()
        .transfer
        .expect("transfer");
    assert!(!transfer.gateway_transfer_id.is_empty());
    assert_eq!(transfer.stripe_transfer_id, transfer.gateway_transfer_id);
    assert_eq!(transfer.stripe_account_id, acct);

    // The first refresh stores the snapshot; the second, within the minute, reads it back.
    for _ in 0..2 {
        let request = GetBalanceRequest { account_id: account.clone(), force_refresh: true };
        let balances = app.balances().get_balance(authed(request, &admin)).await.expect("balance").into_inner().balances;
        let usd = balances.into_iter().find(|b| b.currency == "USD").expect("a USD snapshot");
        assert!(!usd.id.is_empty(), "stored");
        assert_eq!(usd.stripe_account_id, acct);
        assert_eq!(usd.available_amount, "60.00");
        assert_eq!(
            (usd.available_currency.as_str(), usd.pending_currency.as_str(), usd.instant_available_currency.as_str()),
            ("USD", "USD", "USD")
        );
    }

    let payout = app
        .payouts()
        .create_payout(authed(payout_request(&account, "25.00"), &admin))
        .await
        .expect("payout")
        .into_inner()
        .payout
        .expect("payout");
    assert_eq!(payout.stripe_account_id, acct);
    let paid = wait_for_payout(&app, &payout.id, proto::PayoutStatus::Paid).await;
    assert!(!paid.stripe_payout_id.is_empty(), "the gateway's payout id");
    assert_eq!(paid.stripe_payout_id, paid.gateway_payout_id);
    let stored = app
        .payouts()
        .get_payout(authed(GetPayoutRequest { payout_id: payout.id.clone() }, &admin))
        .await
        .expect("payout")
        .into_inner()
        .payout
        .expect("payout");
    assert_eq!(stored.stripe_account_id, acct, "kept on the payout's row");
    app.assert_ledger_ok();
    app.stop().await;
}
