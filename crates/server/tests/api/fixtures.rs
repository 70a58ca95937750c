use std::net::SocketAddr;

use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::{
    self, GetEscrowByPaymentIdRequest, GetUserPaymentsRequest, ListConnectedAccountsRequest, ListSplitRulesRequest,
    ListTransfersRequest,
};
use app::Role;
use tonic::transport::Channel;

use crate::helpers::{Db, TestApp, authed, spawn_app_with, test_config, token};
use crate::on_both_databases;

on_both_databases!(demo_data_is_loaded_through_the_api_once);

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.json");
const FIXTURES: [(&str, &str); 2] = [("FIXTURES_ENABLED", "true"), ("FIXTURES_PATH", SHIPPED)];

/// What the shipped fixtures make, as a platform reads it over gRPC.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// (fixture key, status) per account.
    accounts: Vec<(String, i32)>,
    rules: Vec<String>,
    /// (status, escrow status) per payment of the demo buyers.
    payments: Vec<(i32, Option<i32>)>,
    transfers: usize,
}

async fn seen(app: &TestApp) -> Seen {
    let admin = token("ops", &[Role::Admin]);
    let request = ListConnectedAccountsRequest { limit: 100, ..Default::default() };
    let listed = app.accounts().list_connected_accounts(authed(request, &admin)).await.expect("accounts").into_inner();
    let mut accounts = Vec::new();
    let (mut rules, mut transfers) = (Vec::new(), 0);
    for account in &listed.accounts {
        accounts.push((account.metadata.get("fixture").cloned().unwrap_or_default(), account.status));
        let request = ListSplitRulesRequest { connected_account_id: account.id.clone(), limit: 100, offset: 0 };
        let listed = app.splits().list_split_rules(authed(request, &admin)).await.expect("rules").into_inner();
        rules.extend(listed.split_rules.into_iter().map(|r| r.name));
        let request = ListTransfersRequest { connected_account_id: account.id.clone(), limit: 100, offset: 0 };
        transfers +=
            app.transfers().list_transfers(authed(request, &admin)).await.expect("transfers").into_inner().transfers.len();
    }
    accounts.sort();
    rules.sort();
    let mut payments = Vec::new();
    for buyer in ["demo-buyer-ana", "demo-buyer-marko"] {
        let request = GetUserPaymentsRequest { user_id: buyer.into(), limit: 100, offset: 0 };
        let listed = app.payments().get_user_payments(authed(request, &admin)).await.expect("payments").into_inner();
        for payment in listed.payments {
            payments.push((payment.status, escrow_status(&app.channel, &admin, &payment).await));
        }
    }
    payments.sort();
    Seen { accounts, rules, payments, transfers }
}

async fn escrow_status(channel: &Channel, admin: &str, payment: &proto::Payment) -> Option<i32> {
    if !payment.escrow_enabled {
        return None;
    }
    let request = GetEscrowByPaymentIdRequest { payment_id: payment.id.clone() };
    let hold = EscrowServiceClient::new(channel.clone()).get_escrow_by_payment_id(authed(request, admin)).await.expect("hold");
    hold.into_inner().escrow.map(|h| h.status)
}

/// Starts the service again on the same database and data directory.
async fn restart(app: &mut TestApp) {
    if let Some(running) = app.running.take() {
        running.shutdown().await;
    }
    let running = server::start(test_config(&app.db_url, &app.data_dir, &FIXTURES)).await.expect("restarts");
    app.addr = SocketAddr::from(([127, 0, 0, 1], running.api_addr.port()));
    app.channel = Channel::from_shared(format!("http://{}", app.addr)).expect("uri").connect().await.expect("connects");
    app.running = Some(running);
}

/// Two onboarded vendors with their rules, four paid orders (three escrowed, one of
/// them released to its vendor); a second start on the same database adds nothing.
async fn demo_data_is_loaded_through_the_api_once(db: Db) {
    let mut app = spawn_app_with(db, &FIXTURES).await;
    let first = seen(&app).await;
    let active = i32::from(proto::ConnectedAccountStatus::Active);
    assert_eq!(first.accounts, vec![("demo-bookshop".to_owned(), active), ("demo-coffee".to_owned(), active)]);
    assert_eq!(first.rules, vec!["Kafana commission", "Kafana small orders (instead of the commission)", "Libris commission"]);
    let succeeded = i32::from(proto::PaymentStatus::Succeeded);
    let (holding, released) = (i32::from(proto::EscrowStatus::Holding), i32::from(proto::EscrowStatus::Released));
    assert_eq!(
        first.payments,
        vec![(succeeded, None), (succeeded, Some(holding)), (succeeded, Some(holding)), (succeeded, Some(released))]
    );
    assert_eq!(first.transfers, 1, "the released order paid its vendor");
    let counts = app.row_counts().await;

    restart(&mut app).await;
    assert_eq!(seen(&app).await, first);
    assert_eq!(app.row_counts().await, counts, "a second start adds no row");
    app.assert_ledger_ok();
    app.stop().await;
}

/// The real binary refuses demo data in production, naming the variable, and
/// starts nothing.
#[test]
fn production_refuses_demo_data() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vondipayment"))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("VONDIPAYMENT_ENV", "production")
        .env("VONDIPAYMENT_AUTH_JWT_SECRET", "a-production-secret-of-enough-length")
        .env("VONDIPAYMENT_FIXTURES_ENABLED", "true")
        .env("VONDIPAYMENT_FIXTURES_PATH", SHIPPED)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VONDIPAYMENT_FIXTURES_ENABLED: production refuses demo data"), "{stderr}");
}
