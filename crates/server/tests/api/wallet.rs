use api::proto::wallet_service_client::WalletServiceClient;
use api::proto::{self, DepositRequest, GetWalletRequest, ListWalletTransactionsRequest, WithdrawRequest};
use app::Role;
use tonic::transport::Channel;

use crate::helpers::{Db, TestApp, authed, spawn_app_with, token};
use crate::on_both_databases;

on_both_databases!(
    a_deposit_credits_the_wallet_once_and_withdrawals_complete_or_give_the_money_back,
    concurrent_withdrawals_never_overdraw_the_wallet,
    the_json_api_speaks_for_the_token_holder_and_names_bad_fields,
);

async fn spawn_wallet_app(db: Db) -> TestApp {
    spawn_app_with(db, &[("GATEWAYS_MOCK_PAYOUT_STEP", "50ms")]).await
}

impl TestApp {
    pub fn wallet(&self) -> WalletServiceClient<Channel> {
        WalletServiceClient::new(self.channel.clone())
    }

    /// A top-up of `amount` USD paid (or failed) on the mock page.
    pub async fn top_up(&self, user: &str, amount: &str, outcome: &str) -> String {
        let request = DepositRequest {
            user_id: user.into(),
            amount: amount.into(),
            currency: "USD".into(),
            success_url: "https://wallet.example/ok".into(),
            cancel_url: "https://wallet.example/cancel".into(),
            ..Default::default()
        };
        let deposit = self.wallet().deposit(authed(request, &token(user, &[Role::User]))).await.expect("deposit").into_inner();
        assert!(deposit.checkout_url.contains("/payment/mock?session_id="));
        let (status, _) = self.complete_on_mock_page(&deposit.session_id, outcome).await;
        assert_eq!(status, 303);
        deposit.session_id
    }

    pub async fn wallet_usd(&self, user: &str) -> String {
        let request = GetWalletRequest { user_id: user.into() };
        let balances =
            self.wallet().get_wallet(authed(request, &token(user, &[Role::User]))).await.expect("wallet").into_inner().balances;
        balances.into_iter().find(|b| b.currency == "USD").map_or_else(|| "0.00".into(), |b| b.amount)
    }

    pub async fn history(&self, user: &str) -> Vec<proto::WalletTransaction> {
        let request = ListWalletTransactionsRequest { user_id: user.into(), limit: 100, offset: 0 };
        self.wallet()
            .list_wallet_transactions(authed(request, &token(user, &[Role::User])))
            .await
            .expect("history")
            .into_inner()
            .transactions
    }

    async fn wait_for_settled_withdrawals(&self, user: &str) -> Vec<proto::WalletTransaction> {
        crate::helpers::eventually(&format!("withdrawals of {user} to settle"), || async {
            let history = self.history(user).await;
            history.iter().all(|t| t.status != i32::from(proto::WalletTransactionStatus::Pending)).then_some(history)
        })
        .await
    }
}

fn withdraw(user: &str, amount: &str, description: &str) -> WithdrawRequest {
    WithdrawRequest {
        user_id: user.into(),
        amount: amount.into(),
        currency: "USD".into(),
        description: description.into(),
        ..Default::default()
    }
}

async fn a_deposit_credits_the_wallet_once_and_withdrawals_complete_or_give_the_money_back(db: Db) {
    // deposit through the mock page → wallet balance → withdrawal → history.
    let app = spawn_wallet_app(db).await;
    let user = token("user-1", &[Role::User]);
    let session = app.top_up("user-1", "50.00", "success").await;
    assert_eq!(app.wallet_usd("user-1").await, "50.00");
    app.complete_on_mock_page(&session, "success").await;
    assert_eq!(app.wallet_usd("user-1").await, "50.00", "a second press credits nothing");
    app.top_up("user-1", "25.00", "failure").await;
    assert_eq!(app.wallet_usd("user-1").await, "50.00", "a failed top-up credits nothing");

    let pending =
        app.wallet().withdraw(authed(withdraw("user-1", "20.00", "to my bank"), &user)).await.expect("withdraw").into_inner();
    let pending = pending.transaction.expect("transaction");
    assert_eq!(pending.status, i32::from(proto::WalletTransactionStatus::Pending));
    assert_eq!(app.wallet_usd("user-1").await, "30.00", "debited at once");
    app.wallet().withdraw(authed(withdraw("user-1", "10.00", "mock_failure:account_closed"), &user)).await.expect("doomed");
    assert_eq!(app.wallet_usd("user-1").await, "20.00");

    let history = app.wait_for_settled_withdrawals("user-1").await;
    let kinds: Vec<_> = history.iter().map(|t| (t.kind, t.status, t.amount.as_str())).collect();
    use proto::{WalletTransactionKind as K, WalletTransactionStatus as S};
    assert_eq!(
        kinds,
        vec![
            (i32::from(K::WithdrawalReversal), i32::from(S::Completed), "10.00"),
            (i32::from(K::Withdrawal), i32::from(S::Failed), "10.00"),
            (i32::from(K::Withdrawal), i32::from(S::Completed), "20.00"),
            (i32::from(K::Deposit), i32::from(S::Completed), "50.00"),
        ],
        "newest first"
    );
    assert_eq!(app.wallet_usd("user-1").await, "30.00", "the failed withdrawal gave its money back");

    // Refunding part of the top-up takes it out of the wallet, with a history row;
    // more than the wallet holds is refused.
    let top_up = app.history("user-1").await.into_iter().find(|t| t.kind == i32::from(K::Deposit)).expect("deposit").payment_id;
    let admin = token("ops", &[Role::Admin]);
    let refund =
        |amount: &str| proto::CreateRefundRequest { payment_id: top_up.clone(), amount: amount.into(), ..Default::default() };
    let too_much = app.refunds().create_refund(authed(refund("30.01"), &admin)).await.expect_err("more than the wallet");
    assert!(too_much.message().contains("insufficient_funds"), "{}", too_much.message());
    app.refunds().create_refund(authed(refund("5.00"), &admin)).await.expect("refund from the wallet");
    assert_eq!(app.wallet_usd("user-1").await, "25.00");
    let newest = app.history("user-1").await.remove(0);
    assert_eq!((newest.kind, newest.amount.as_str()), (i32::from(K::Withdrawal), "5.00"));
    assert_eq!(app.ledger_balance("withdrawal_in_transit:user-1:USD").await, 0);
    let page = ListWalletTransactionsRequest { user_id: "user-1".into(), limit: 1, offset: 1 };
    let page = app.wallet().list_wallet_transactions(authed(page, &user)).await.expect("page").into_inner();
    assert_eq!((page.total, page.transactions.len(), page.transactions[0].kind), (5, 1, i32::from(K::WithdrawalReversal)));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn concurrent_withdrawals_never_overdraw_the_wallet(db: Db) {
    let app = spawn_app_with(db, &[("GATEWAYS_MOCK_PAYOUT_STEP", "1h")]).await;
    app.top_up("user-2", "100.00", "success").await;
    let user = token("user-2", &[Role::User]);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let mut client = app.wallet();
            let request = authed(withdraw("user-2", "10.01", ""), &user);
            tokio::spawn(async move { client.withdraw(request).await })
        })
        .collect();
    let (mut done, mut refused) = (0, 0);
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => done += 1,
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::FailedPrecondition);
                assert!(status.message().contains("insufficient_funds"), "{}", status.message());
                refused += 1;
            }
        }
    }
    assert_eq!((done, refused), (9, 11));
    assert_eq!(app.wallet_usd("user-2").await, "9.91");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn the_json_api_speaks_for_the_token_holder_and_names_bad_fields(db: Db) {
    let app = spawn_wallet_app(db).await;
    let user = token("user-3", &[Role::User]);
    let bearer = format!("Bearer {user}");
    let deposit = app
        .http
        .post(app.url("/api/v1/balance/deposit"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"amount": "12.50", "currency": "USD", "success_url": "https://w.example/ok", "cancel_url": "https://w.example/no"}))
        .send()
        .await
        .expect("deposit");
    assert_eq!(deposit.status().as_u16(), 200);
    let deposit: serde_json::Value = deposit.json().await.expect("json");
    let payment_url = deposit["payment_url"].as_str().expect("payment_url");
    let session = payment_url.rsplit("session_id=").next().expect("session");
    app.complete_on_mock_page(session, "success").await;

    let balance: serde_json::Value = app
        .http
        .get(app.url("/api/v1/balance"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("balance")
        .json()
        .await
        .expect("json");
    assert_eq!(balance["balances"], serde_json::json!([{"currency": "USD", "amount": "12.50"}]));

    let before = app.row_counts().await;
    for (body, field) in [
        (serde_json::json!({"amount": "12.555", "currency": "USD"}), "amount"),
        (serde_json::json!({"amount": "-1", "currency": "USD"}), "amount"),
        (serde_json::json!({"amount": "1.00", "currency": "ZZZ"}), "currency"),
    ] {
        let response = app
            .http
            .post(app.url("/api/v1/balance/withdraw"))
            .header("authorization", &bearer)
            .json(&body)
            .send()
            .await
            .expect("withdraw");
        assert_eq!(response.status().as_u16(), 400);
        let error: serde_json::Value = response.json().await.expect("json");
        assert!(error["error"]["message"].as_str().unwrap_or_default().starts_with(field), "{error}");
    }
    // Bodies and queries axum cannot read get the same envelope, naming what was wrong.
    let malformed = [
        (app.http.post(app.url("/api/v1/balance/withdraw")).header("content-type", "application/json").body("{not json"), "body"),
        (app.http.post(app.url("/api/v1/balance/withdraw")).body(r#"{"amount":"1.00","currency":"USD"}"#), "body"),
        (app.http.post(app.url("/api/v1/balance/deposit")).json(&serde_json::json!({"amount": 5})), "body"),
        (app.http.get(app.url("/api/v1/balance/transactions?limit=many")), "query"),
    ];
    for (request, field) in malformed {
        let response = request.header("authorization", &bearer).send().await.expect("answered");
        assert_eq!(response.status().as_u16(), 400);
        let error: serde_json::Value = response.json().await.expect("a JSON envelope");
        assert_eq!(error["error"]["code"], "INVALID_ARGUMENT", "{error}");
        assert!(error["error"]["message"].as_str().unwrap_or_default().starts_with(field), "{error}");
    }
    let over = app
        .http
        .post(app.url("/api/v1/balance/withdraw"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"amount": "12.51", "currency": "USD"}))
        .send()
        .await
        .expect("over");
    assert_eq!(over.status().as_u16(), 409);
    let anonymous = app.http.get(app.url("/api/v1/balance")).send().await.expect("no token");
    assert_eq!(anonymous.status().as_u16(), 401);
    let others = app
        .wallet()
        .get_wallet(authed(GetWalletRequest { user_id: "user-4".into() }, &user))
        .await
        .expect_err("another's wallet");
    assert_eq!(others.code(), tonic::Code::PermissionDenied);
    let others = app.wallet().withdraw(authed(withdraw("user-4", "1.00", ""), &user)).await.expect_err("another's wallet");
    assert_eq!(others.code(), tonic::Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before, "refused requests changed nothing");

    let withdrawn = app
        .http
        .post(app.url("/api/v1/balance/withdraw"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"amount": "2.50", "currency": "USD", "idempotency_key": "w-1"}))
        .send()
        .await
        .expect("withdraw");
    let withdrawn: serde_json::Value = withdrawn.json().await.expect("json");
    assert_eq!(
        (withdrawn["transaction"]["status"].as_str(), withdrawn["transaction"]["amount"].as_str()),
        (Some("pending"), Some("2.50"))
    );
    let history: serde_json::Value = app
        .http
        .get(app.url("/api/v1/balance/transactions?limit=10"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    assert_eq!(history["total"], 2);
    assert_eq!(history["transactions"][0]["kind"], "withdrawal");
    assert_eq!(history["transactions"][1]["kind"], "deposit");
    app.assert_ledger_ok();
    app.stop().await;
}
