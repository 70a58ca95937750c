use std::process::Command;

use api::proto::{self, CreateRefundRequest, ReverseTransferRequest};

use crate::helpers::{Db, TestApp, authed};
use crate::marketplace::{admin, paid_order, payout_request, spawn_marketplace, transfer_request, wait_for_payout};
use crate::on_both_databases;

on_both_databases!(a_mock_run_matches_every_record_and_one_the_mock_never_made_fails_it);

/// The real `reconcile` command on the app's database; its exit code and output.
pub async fn reconcile(app: &TestApp, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vondipayment"));
    command
        .arg("reconcile")
        .args(args)
        .env_clear()
        .env("VONDIPAYMENT_DB_URL", &app.db_url)
        .env("VONDIPAYMENT_DATA_DIR", &app.data_dir)
        .env("VONDIPAYMENT_LOG_LEVEL", "error")
        .envs(envs.iter().map(|(k, v)| (format!("VONDIPAYMENT_{k}"), *v)));
    // Off the runtime's threads: the command may call gateways served by this process.
    let output = tokio::task::spawn_blocking(move || command.output().expect("reconcile runs")).await.expect("joined");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

/// A payment with a transfer, a reversal and a paid payout, and a refunded one.
async fn some_of_everything(app: &TestApp) -> proto::Transfer {
    let admin = admin();
    let account = app.onboarded_account(&admin, "vendor-r").await;
    let payment = paid_order(app, &account, "100.00").await;
    let transfer = app.transfers().create_transfer(authed(transfer_request(&account, "60.00", &payment), &admin)).await;
    let transfer = transfer.expect("transfer").into_inner().transfer.expect("transfer");
    let reversal = ReverseTransferRequest { transfer_id: transfer.id.clone(), amount: "10.00".into(), ..Default::default() };
    app.transfers().reverse_transfer(authed(reversal, &admin)).await.expect("reversal");
    let payout = app.payouts().create_payout(authed(payout_request(&account, "20.00"), &admin)).await.expect("payout");
    wait_for_payout(app, &payout.into_inner().payout.expect("payout").id, proto::PayoutStatus::Paid).await;
    let refunded = paid_order(app, &account, "30.00").await;
    let refund = CreateRefundRequest { payment_id: refunded, amount: "5.00".into(), ..Default::default() };
    app.refunds().create_refund(authed(refund, &admin)).await.expect("refund");
    transfer
}

async fn a_mock_run_matches_every_record_and_one_the_mock_never_made_fails_it(db: Db) {
    let app = spawn_marketplace(db).await;
    let transfer = some_of_everything(&app).await;

    let (code, output) = reconcile(&app, &["--gateway", "mock", "--since", "1h"], &[]).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("mock: run ") && output.contains("matched=6 missing_at_gateway=0 missing_in_ledger=0"), "{output}");

    app.execute(&format!("UPDATE transfers SET gateway_transfer_id = 'tr_mock_unknown' WHERE id = '{}'", transfer.id)).await;
    let (code, output) = reconcile(&app, &["--since", "1h"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    let line =
        format!("missing_at_gateway transfer id={} gateway_id=tr_mock_unknown ours=60.00 USD succeeded gateway=-", transfer.id);
    assert!(output.contains(&line), "{output}");
    assert!(output.contains("matched=5 missing_at_gateway=1"), "{output}");
    assert!(output.contains("1 line(s) that do not match"), "{output}");
    assert_eq!(app.row_counts().await.get("reconciliation_runs"), Some(&2), "both runs are stored");

    let (code, output) = reconcile(&app, &["--gateway", "paypal"], &[]).await;
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("gateway") && output.contains("paypal"), "{output}");
    app.assert_ledger_ok();
    app.stop().await;
}
