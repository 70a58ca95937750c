use std::process::Command;

use api::proto::reconciliation_service_client::ReconciliationServiceClient;
use api::proto::{self, CreateRefundRequest, GetReconciliationRunRequest, ListReconciliationRunsRequest, ReverseTransferRequest};

use app::Role;

use crate::allsecure::{allsecure_checkout, debit_of, spawn_with_allsecure};
use crate::console::sign_in;
use crate::helpers::{Db, TestApp, authed, eventually, spawn_app_with, token};
use crate::marketplace::{admin, paid_order, payout_request, spawn_marketplace, transfer_request, wait_for_payout};
use crate::on_both_databases;
use crate::pages::WebSession;

on_both_databases!(
    a_mock_run_matches_every_record_and_one_the_mock_never_made_fails_it,
    stripe_is_reconciled_from_its_balance_transactions_transfers_and_payouts,
    allsecure_is_reconciled_from_its_status_api,
    the_scheduled_job_and_the_command_store_runs_the_console_and_metrics_show,
);

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

async fn stripe_is_reconciled_from_its_balance_transactions_transfers_and_payouts(db: Db) {
    use crate::stripe_support::{API_KEY, paid_stripe_payment, spawn_with_stripe, stripe_vendor, transfer_when};
    let (app, fake) = spawn_with_stripe(db, &[]).await;
    let admin = admin();
    let payment = paid_stripe_payment(&app, &fake, "buyer-s", "100.00").await;
    let (account, _) = stripe_vendor(&app, &fake, &admin, "vendor-s").await;
    let transfer = app.transfers().create_transfer(authed(transfer_request(&account, "60.00", &payment), &admin)).await;
    let transfer = transfer.expect("transfer").into_inner().transfer.expect("transfer");
    let transfer = transfer_when(&app, &admin, &transfer.id, |t| t.status == i32::from(proto::TransferStatus::Paid)).await;
    let reversal = ReverseTransferRequest { transfer_id: transfer.id.clone(), amount: "10.00".into(), ..Default::default() };
    app.transfers().reverse_transfer(authed(reversal, &admin)).await.expect("reversal");
    app.payouts().create_payout(authed(payout_request(&account, "20.00"), &admin)).await.expect("payout");
    let refund = CreateRefundRequest { payment_id: payment.clone(), amount: "5.00".into(), ..Default::default() };
    app.refunds().create_refund(authed(refund, &admin)).await.expect("refund");
    let base_url = fake.base_url();
    let stripe = [
        ("GATEWAYS_STRIPE_ENABLED", "true"),
        ("GATEWAYS_STRIPE_API_KEY", API_KEY),
        ("GATEWAYS_STRIPE_WEBHOOK_SECRET", crate::stripe_support::PLATFORM_SECRET),
        ("GATEWAYS_STRIPE_BASE_URL", base_url.as_str()),
    ];

    let (code, output) = reconcile(&app, &["--gateway", "stripe", "--since", "1h"], &stripe).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("stripe: run ") && output.contains("matched=5 missing_at_gateway=0 missing_in_ledger=0"), "{output}");
    assert!(fake.requests().iter().any(|r| r.path == "/v1/balance_transactions"), "the list was read");

    let intent = app.get_payment(&token("buyer-s", &[Role::User]), &payment).await.expect("payment").gateway_payment_intent_id;
    let charge = fake.object(&intent).expect("intent")["latest_charge"].as_str().expect("charge").to_owned();
    fake.set_amount(&charge, 9_999);
    assert!(fake.forget(&transfer.gateway_transfer_id));
    let (code, output) = reconcile(&app, &["--gateway", "stripe", "--since", "1h"], &stripe).await;
    assert_eq!(code, Some(1), "{output}");
    let differs =
        format!("amount_mismatch payment id={payment} gateway_id={intent} ours=100.00 USD succeeded gateway=99.99 USD succeeded");
    let missing = format!("missing_at_gateway transfer id={} gateway_id={}", transfer.id, transfer.gateway_transfer_id);
    assert!(output.contains(&differs) && output.contains(&missing), "{output}");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn allsecure_is_reconciled_from_its_status_api(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let buyer = token("kupac-r", &[Role::User]);
    let created = app.create_checkout(&buyer, allsecure_checkout("kupac-r", "1500")).await.expect("checkout");
    let debit = debit_of(&fake, &created.payment_id)["uuid"].as_str().expect("uuid").to_owned();
    let (status, _) =
        crate::allsecure::deliver(&app, fake.callback(&debit, "OK", &crate::allsecure::now()).expect("callback")).await;
    assert_eq!(status, 200);
    let refund = CreateRefundRequest { payment_id: created.payment_id.clone(), amount: "400".into(), ..Default::default() };
    app.refunds().create_refund(authed(refund, &admin())).await.expect("refund");
    let base_url = fake.base_url();
    let allsecure = [
        ("GATEWAYS_ALLSECURE_ENABLED", "true"),
        ("GATEWAYS_ALLSECURE_BASE_URL", base_url.as_str()),
        ("GATEWAYS_ALLSECURE_API_KEY", "as-api-key"),
        ("GATEWAYS_ALLSECURE_USERNAME", "as-user"),
        ("GATEWAYS_ALLSECURE_PASSWORD", "as-password"),
        ("GATEWAYS_ALLSECURE_SHARED_SECRET", "as-shared-secret"),
    ];

    let (code, output) = reconcile(&app, &["--gateway", "allsecure", "--since", "1h"], &allsecure).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("allsecure: run ") && output.contains("matched=2 missing_at_gateway=0"), "{output}");
    let asked = fake.requests().into_iter().filter(|r| r.uri.contains("/getByMerchantTransactionId/")).count();
    assert_eq!(asked, 2, "one status call per record");

    assert!(fake.set_amount(&debit, 150_100));
    let (code, output) = reconcile(&app, &["--gateway", "allsecure", "--since", "1h"], &allsecure).await;
    assert_eq!(code, Some(1), "{output}");
    let differs = format!(
        "amount_mismatch payment id={} gateway_id={debit} ours=1500.00 RSD succeeded gateway=1501.00 RSD succeeded",
        created.payment_id
    );
    assert!(output.contains(&differs), "{output}");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn the_scheduled_job_and_the_command_store_runs_the_console_and_metrics_show(db: Db) {
    let app =
        spawn_app_with(db, &[("BALANCE_PENDING_DAYS", "0"), ("GATEWAYS_MOCK_PAYOUT_STEP", "50ms"), ("RECONCILE_INTERVAL", "1h")])
            .await;
    // The job runs when the service starts, then once an hour.
    eventually("the scheduled run", || async { (app.row_counts().await["reconciliation_runs"] == 1).then_some(()) }).await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("# HELP reconciliation_mismatches "), "{metrics}");
    assert!(metrics.contains(r#"reconciliation_mismatches{gateway="mock",kind="missing_at_gateway"} 0"#), "{metrics}");
    assert!(metrics.contains(r#"reconciliation_last_run_timestamp_seconds{gateway="mock"}"#), "{metrics}");
    let transfer = some_of_everything(&app).await;
    app.execute(&format!("UPDATE transfers SET gateway_transfer_id = 'tr_mock_unknown' WHERE id = '{}'", transfer.id)).await;
    let (code, output) = reconcile(&app, &["--since", "1h"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    let run = output.split("mock: run ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a run id").to_owned();

    let mut user = WebSession::new(&app);
    sign_in(&mut user, "buyer-1", "role_user").await;
    assert_eq!(user.get("/en/admin/reconciliation").await.status, 403);
    assert_eq!(user.get(&format!("/en/admin/reconciliation/{run}")).await.status, 403);
    let mut service = WebSession::new(&app);
    sign_in(&mut service, "backend", "role_service").await;
    for (locale, missing) in [("en", "Missing at the gateway"), ("sr", "Nema ga kod gejtveja"), ("ru", "Нет в шлюзе")] {
        let list = service.get(&format!("/{locale}/admin/reconciliation")).await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert!(list.body.contains(&format!("/{locale}/admin/reconciliation/{run}")), "{}", list.body);
        let shown = service.get(&format!("/{locale}/admin/reconciliation/{run}")).await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        assert!(
            shown.body.contains(missing) && shown.body.contains(&transfer.id) && shown.body.contains("tr_mock_unknown"),
            "{}",
            shown.body
        );
        for body in [&list.body, &shown.body] {
            assert!(!body.contains(pages::i18n::MISSING), "/{locale}: an untranslated text: {body}");
        }
    }
    let mut grpc = ReconciliationServiceClient::new(app.channel.clone());
    let listed = grpc.list_reconciliation_runs(authed(ListReconciliationRunsRequest { limit: 10, offset: 0 }, &admin())).await;
    let listed = listed.expect("runs").into_inner();
    assert_eq!((listed.total, listed.runs[0].id.as_str(), listed.runs[0].missing_at_gateway), (2, run.as_str(), 1));
    let got = grpc.get_reconciliation_run(authed(GetReconciliationRunRequest { run_id: run.clone() }, &admin())).await;
    let first = got.expect("run").into_inner().lines.remove(0);
    assert_eq!(first.outcome, i32::from(proto::ReconciliationOutcome::MissingAtGateway));
    assert_eq!(
        (first.kind, first.gateway_id.as_str()),
        (i32::from(proto::ReconciliationObjectKind::Transfer), "tr_mock_unknown")
    );
    assert_eq!(first.ours.map(|o| (o.amount, o.currency)), Some(("60.00".to_owned(), "USD".to_owned())));
    assert!(first.gateway.is_none());
    let buyer = token("buyer-1", &[Role::User]);
    let refused = grpc.list_reconciliation_runs(authed(ListReconciliationRunsRequest { limit: 10, offset: 0 }, &buyer)).await;
    assert_eq!(refused.expect_err("a user").code(), tonic::Code::PermissionDenied);

    let unknown = service.get(&format!("/en/admin/reconciliation/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(service.get("/en/admin/reconciliation/not-a-run").await.status, 400);
    app.assert_ledger_ok();
    app.stop().await;
}
