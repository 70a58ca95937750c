use api::proto::{
    self, CalculateFeeRequest, CreateAccountLinkRequest, CreateConnectedAccountRequest, CreateSplitRuleRequest,
    DeleteSplitRuleRequest, GetBalanceHistoryRequest, GetBalanceRequest, GetConnectedAccountRequest, GetSplitRuleRequest,
    ListConnectedAccountsRequest, ListSplitRulesRequest, ReverseTransferRequest, UpdateSplitRuleRequest,
};
use app::Role;

use crate::helpers::{Db, authed, spawn_app_with, token};
use crate::marketplace::{admin, available_usd, paid_order, payout_request, spawn_marketplace, transfer_request};
use crate::on_both_databases;

on_both_databases!(
    each_bad_marketplace_input_is_named_and_changes_nothing,
    merchants_read_only_their_own_accounts_and_write_nothing,
    split_rules_are_created_updated_and_deleted_and_the_highest_priority_applies,
    pending_funds_mature_on_schedule_and_leave_a_history,
    a_forced_refresh_stores_at_most_one_snapshot_a_minute,
);

fn split(name: &str, account: &str, rule_type: proto::SplitRuleType, value: &str, priority: i32) -> CreateSplitRuleRequest {
    CreateSplitRuleRequest {
        name: name.into(),
        connected_account_id: account.into(),
        r#type: rule_type.into(),
        value: value.into(),
        priority,
        currency: if rule_type == proto::SplitRuleType::Fixed { "USD".into() } else { String::new() },
        ..Default::default()
    }
}

/// Asserts an INVALID_ARGUMENT (or the given code) whose message starts with `field`.
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: tonic::Code, field: &str) {
    let status = result.expect_err(field);
    assert_eq!(status.code(), code, "{field}: {}", status.message());
    assert!(
        status.message().starts_with(field) || code != tonic::Code::InvalidArgument,
        "'{}' should name {field}",
        status.message()
    );
}

async fn each_bad_marketplace_input_is_named_and_changes_nothing(db: Db) {
    use tonic::Code::{FailedPrecondition, InvalidArgument, NotFound};
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let active = app.onboarded_account(&admin, "merchant-1").await;
    let pending = app.create_account(&admin, "merchant-2").await.id;
    let payment_id = paid_order(&app, &active, "10.00").await;
    let transfer = app
        .transfers()
        .create_transfer(authed(transfer_request(&active, "5.00", &payment_id), &admin))
        .await
        .expect("transfer")
        .into_inner()
        .transfer
        .expect("t");
    let before = app.row_counts().await;

    let account = |mutate: fn(&mut CreateConnectedAccountRequest)| {
        let mut request = CreateConnectedAccountRequest {
            email: "v@shop.example".into(),
            account_type: proto::ConnectedAccountType::Express.into(),
            business_type: "individual".into(),
            country: "DE".into(),
            metadata: Default::default(),
        };
        mutate(&mut request);
        authed(request, &admin)
    };
    refused(
        app.accounts().create_connected_account(account(|r| r.email = "not-an-email".into())).await,
        InvalidArgument,
        "email",
    );
    refused(app.accounts().create_connected_account(account(|r| r.account_type = 0)).await, InvalidArgument, "account_type");
    refused(
        app.accounts().create_connected_account(account(|r| r.business_type = "charity".into())).await,
        InvalidArgument,
        "business_type",
    );
    refused(app.accounts().create_connected_account(account(|r| r.country = "XX".into())).await, InvalidArgument, "country");

    let link = |account_id: &str, return_url: &str| {
        authed(
            CreateAccountLinkRequest {
                account_id: account_id.into(),
                return_url: return_url.into(),
                refresh_url: "https://m.example/r".into(),
            },
            &admin,
        )
    };
    refused(app.accounts().create_account_link(link("nope", "https://m.example/ok")).await, InvalidArgument, "account_id");
    refused(app.accounts().create_account_link(link(&active, "ftp://m.example/ok")).await, InvalidArgument, "return_url");
    refused(
        app.accounts().create_account_link(link(&uuid::Uuid::new_v4().to_string(), "https://m.example/ok")).await,
        NotFound,
        "",
    );

    let mut fixed = split("fixed", &active, proto::SplitRuleType::Fixed, "1.00", 1);
    fixed.currency.clear();
    refused(app.splits().create_split_rule(authed(fixed, &admin)).await, InvalidArgument, "currency");
    for value in ["-1", "1e3", "", "abc", "100.5"] {
        let rule = split("pct", &active, proto::SplitRuleType::Percentage, value, 1);
        refused(app.splits().create_split_rule(authed(rule, &admin)).await, InvalidArgument, "value");
    }
    let mut bounds = split("bounded", &active, proto::SplitRuleType::Percentage, "5", 1);
    (bounds.min_amount, bounds.max_amount) = ("100".into(), "10".into());
    refused(app.splits().create_split_rule(authed(bounds, &admin)).await, InvalidArgument, "min_amount");
    let typeless = split("typeless", &active, proto::SplitRuleType::Unspecified, "5", 1);
    refused(app.splits().create_split_rule(authed(typeless, &admin)).await, InvalidArgument, "type");

    let transfer_with = |mutate: fn(&mut proto::CreateTransferRequest), account: &str| {
        let mut request = transfer_request(account, "1.00", "");
        mutate(&mut request);
        authed(request, &admin)
    };
    refused(app.transfers().create_transfer(transfer_with(|r| r.amount = "-1".into(), &active)).await, InvalidArgument, "amount");
    refused(
        app.transfers().create_transfer(transfer_with(|r| r.amount = "1.001".into(), &active)).await,
        InvalidArgument,
        "amount",
    );
    refused(
        app.transfers().create_transfer(transfer_with(|r| r.currency = "ZZZ".into(), &active)).await,
        InvalidArgument,
        "currency",
    );
    refused(
        app.transfers().create_transfer(transfer_with(|r| r.payment_id = "x".into(), &active)).await,
        InvalidArgument,
        "payment_id",
    );
    refused(app.transfers().create_transfer(transfer_with(|_| {}, "bad")).await, InvalidArgument, "connected_account_id");
    refused(app.transfers().create_transfer(transfer_with(|_| {}, &pending)).await, FailedPrecondition, "");
    // The account is read in the write's transaction: refused there, its key is not kept.
    let keyed = transfer_with(|r| r.idempotency_key = "to-a-pending-account".into(), &pending);
    refused(app.transfers().create_transfer(keyed).await, FailedPrecondition, "");
    let nobody = uuid::Uuid::now_v7().to_string();
    refused(app.transfers().create_transfer(transfer_with(|_| {}, &nobody)).await, NotFound, "");

    let reverse = |transfer_id: &str, amount: &str| {
        authed(ReverseTransferRequest { transfer_id: transfer_id.into(), amount: amount.into(), ..Default::default() }, &admin)
    };
    refused(app.transfers().reverse_transfer(reverse("nope", "")).await, InvalidArgument, "transfer_id");
    refused(app.transfers().reverse_transfer(reverse(&transfer.id, "abc")).await, InvalidArgument, "amount");

    let mut long = payout_request(&active, "1.00");
    long.statement_descriptor = "x".repeat(23);
    refused(app.payouts().create_payout(authed(long, &admin)).await, InvalidArgument, "statement_descriptor");
    let mut method = payout_request(&active, "1.00");
    method.method = 99;
    refused(app.payouts().create_payout(authed(method, &admin)).await, InvalidArgument, "method");
    refused(app.payouts().create_payout(authed(payout_request(&active, "0.001"), &admin)).await, InvalidArgument, "amount");
    refused(app.payouts().create_payout(authed(payout_request(&pending, "1.00"), &admin)).await, FailedPrecondition, "");

    let history = GetBalanceHistoryRequest {
        account_id: active.clone(),
        from_date: Some(prost_types::Timestamp { seconds: 2_000_000_000, nanos: 0 }),
        to_date: Some(prost_types::Timestamp { seconds: 1_000_000_000, nanos: 0 }),
        limit: 10,
        offset: 0,
    };
    refused(app.balances().get_balance_history(authed(history, &admin)).await, InvalidArgument, "from_date");

    assert_eq!(app.row_counts().await, before, "refused requests changed the database");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn merchants_read_only_their_own_accounts_and_write_nothing(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let mine = app.onboarded_account(&admin, "merchant-1").await;
    let theirs = app.onboarded_account(&admin, "merchant-2").await;
    let merchant = token("merchant-1", &[Role::Merchant]);
    let user = token("merchant-1", &[Role::User]);

    let get = |id: &str, token: &str| authed(GetConnectedAccountRequest { account_id: id.into() }, token);
    app.accounts().get_connected_account(get(&mine, &merchant)).await.expect("own account");
    let hidden = app.accounts().get_connected_account(get(&theirs, &merchant)).await.expect_err("another's account");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let denied = app.accounts().get_connected_account(get(&mine, &user)).await.expect_err("user role");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    let listed = app
        .accounts()
        .list_connected_accounts(authed(ListConnectedAccountsRequest { status: 0, limit: 10, offset: 0 }, &merchant))
        .await
        .expect("list")
        .into_inner();
    assert_eq!((listed.total, listed.accounts[0].id.as_str()), (1, mine.as_str()));
    let all = app
        .accounts()
        .list_connected_accounts(authed(
            ListConnectedAccountsRequest { status: proto::ConnectedAccountStatus::Active.into(), limit: 10, offset: 0 },
            &admin,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.total, 2);

    let balance = GetBalanceRequest { account_id: mine.clone(), force_refresh: false };
    app.balances().get_balance(authed(balance, &merchant)).await.expect("own balance");
    let balance = GetBalanceRequest { account_id: theirs.clone(), force_refresh: false };
    assert_eq!(app.balances().get_balance(authed(balance, &merchant)).await.expect_err("theirs").code(), tonic::Code::NotFound);

    let before = app.row_counts().await;
    let writes = [
        app.transfers().create_transfer(authed(transfer_request(&mine, "1.00", ""), &merchant)).await.map(|_| ()),
        app.payouts().create_payout(authed(payout_request(&mine, "1.00"), &merchant)).await.map(|_| ()),
        app.splits()
            .create_split_rule(authed(split("mine", &mine, proto::SplitRuleType::Percentage, "0", 1), &merchant))
            .await
            .map(|_| ()),
    ];
    for write in writes {
        assert_eq!(write.expect_err("merchant write").code(), tonic::Code::PermissionDenied);
    }
    let request = CreateConnectedAccountRequest {
        email: "x@y.example".into(),
        account_type: proto::ConnectedAccountType::Express.into(),
        business_type: "company".into(),
        country: "RS".into(),
        metadata: Default::default(),
    };
    assert_eq!(
        app.accounts().create_connected_account(authed(request, &user)).await.expect_err("user").code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(app.row_counts().await, before);
    app.stop().await;
}

async fn split_rules_are_created_updated_and_deleted_and_the_highest_priority_applies(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let create = |request| async {
        app.splits().create_split_rule(authed(request, &admin)).await.expect("rule").into_inner().split_rule.expect("r")
    };
    let platform = create(split("platform 5%", "", proto::SplitRuleType::Percentage, "5", 1)).await;
    let fixed = create(split("flat 2.00", &account, proto::SplitRuleType::Fixed, "2.00", 2)).await;
    let fee = |amount: &str| {
        let request =
            CalculateFeeRequest { connected_account_id: account.clone(), amount: amount.into(), currency: "USD".into() };
        let mut client = app.splits();
        let admin = admin.clone();
        async move { client.calculate_fee(authed(request, &admin)).await.expect("fee").into_inner() }
    };
    let quote = fee("100.00").await;
    assert_eq!((quote.total_fee.as_str(), quote.applied_rules[0].rule_id.as_str()), ("2.00", fixed.id.as_str()));
    assert_eq!(fee("1.50").await.total_fee, "1.50", "capped at the amount");

    let update = UpdateSplitRuleRequest { rule_id: platform.id.clone(), priority: Some(3), ..Default::default() };
    let updated =
        app.splits().update_split_rule(authed(update, &admin)).await.expect("update").into_inner().split_rule.expect("r");
    assert_eq!((updated.priority, updated.name.as_str()), (3, "platform 5%"));
    assert_eq!(fee("100.00").await.total_fee, "5.00");

    let deactivate = UpdateSplitRuleRequest { rule_id: platform.id.clone(), is_active: Some(false), ..Default::default() };
    app.splits().update_split_rule(authed(deactivate, &admin)).await.expect("deactivate");
    assert_eq!(fee("100.00").await.total_fee, "2.00");

    let listed = app
        .splits()
        .list_split_rules(authed(ListSplitRulesRequest { connected_account_id: account.clone(), limit: 0, offset: 0 }, &admin))
        .await;
    assert_eq!(listed.expect("list").into_inner().total, 1, "only the account's own rules");
    app.splits().delete_split_rule(authed(DeleteSplitRuleRequest { rule_id: fixed.id.clone() }, &admin)).await.expect("delete");
    let gone = app.splits().get_split_rule(authed(GetSplitRuleRequest { rule_id: fixed.id.clone() }, &admin)).await;
    assert_eq!(gone.expect_err("deleted").code(), tonic::Code::NotFound);
    assert_eq!(fee("100.00").await.total_fee, "0.00", "no active rule: no fee");
    app.stop().await;
}

async fn pending_funds_mature_on_schedule_and_leave_a_history(db: Db) {
    let app = spawn_app_with(db, &[("BALANCE_PENDING_DAYS", "2"), ("BALANCE_REFRESH_INTERVAL", "100ms")]).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = paid_order(&app, &account, "80.00").await;
    app.transfers().create_transfer(authed(transfer_request(&account, "80.00", &payment_id), &admin)).await.expect("transfer");

    let balance = |force_refresh| GetBalanceRequest { account_id: account.clone(), force_refresh };
    let now = app.balances().get_balance(authed(balance(true), &admin)).await.expect("balance").into_inner().balances;
    assert_eq!((now[0].pending_amount.as_str(), now[0].available_amount.as_str()), ("80.00", "0.00"));
    assert!(!now[0].id.is_empty(), "force_refresh stores the snapshot");
    assert_eq!(now[0].snapshot_type, i32::from(proto::BalanceSnapshotType::OnDemand));
    let refused = app
        .payouts()
        .create_payout(authed(payout_request(&account, "1.00"), &admin))
        .await
        .expect_err("pending is not available");
    assert!(refused.message().contains("insufficient_funds"));

    // Two days pass.
    app.execute("UPDATE transfers SET available_on = 0").await;
    crate::helpers::eventually("the matured balance", || async {
        (available_usd(&app, &account).await == "80.00").then_some(())
    })
    .await;

    // Wait for a scheduled run to record the matured balance; the scheduler keeps
    // adding snapshots, so a fixed end keeps the totals comparable.
    let history = |from: i64, to: i64, limit| GetBalanceHistoryRequest {
        account_id: account.clone(),
        from_date: Some(prost_types::Timestamp { seconds: from, nanos: 0 }),
        to_date: Some(prost_types::Timestamp { seconds: to, nanos: 0 }),
        limit,
        offset: 0,
    };
    let cutoff = crate::helpers::eventually("a scheduled snapshot of the matured balance", || async {
        let now = chrono::Utc::now().timestamp();
        let all = app.balances().get_balance_history(authed(history(0, now, 100), &admin)).await.expect("history");
        let recorded = all
            .into_inner()
            .snapshots
            .iter()
            .any(|s| s.snapshot_type == i32::from(proto::BalanceSnapshotType::Scheduled) && s.available_amount == "80.00");
        recorded.then_some(now)
    })
    .await;
    let history = |from: i64, limit| history(from, cutoff, limit);
    let all = app.balances().get_balance_history(authed(history(0, 100), &admin)).await.expect("history").into_inner();
    assert!(all.total >= 2, "an on-demand and at least one scheduled snapshot");
    assert!(
        all.snapshots
            .iter()
            .any(|s| s.snapshot_type == i32::from(proto::BalanceSnapshotType::Scheduled) && s.available_amount == "80.00")
    );
    let page = app.balances().get_balance_history(authed(history(0, 1), &admin)).await.expect("page").into_inner();
    assert_eq!((page.snapshots.len(), page.total), (1, all.total));
    let mut future = history(4_000_000_000, 10);
    future.to_date = None;
    let future = app.balances().get_balance_history(authed(future, &admin)).await.expect("empty").into_inner();
    assert_eq!(future.total, 0);
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_forced_refresh_stores_at_most_one_snapshot_a_minute(db: Db) {
    let app = spawn_marketplace(db).await;
    let admin = admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = paid_order(&app, &account, "30.00").await;
    app.transfers().create_transfer(authed(transfer_request(&account, "30.00", &payment_id), &admin)).await.expect("transfer");
    let merchant = token("merchant-1", &[Role::Merchant]);
    let refresh = |caller: &str| authed(GetBalanceRequest { account_id: account.clone(), force_refresh: true }, caller);
    let on_demand = || async {
        let history = GetBalanceHistoryRequest { account_id: account.clone(), limit: 100, ..Default::default() };
        let history = app.balances().get_balance_history(authed(history, &admin)).await.expect("history").into_inner();
        let on_demand = history.snapshots.iter().filter(|s| s.snapshot_type == i32::from(proto::BalanceSnapshotType::OnDemand));
        on_demand.map(|s| s.id.clone()).collect::<Vec<_>>()
    };

    let first = app.balances().get_balance(refresh(&merchant)).await.expect("refresh").into_inner().balances;
    let second = app.balances().get_balance(refresh(&merchant)).await.expect("again").into_inner().balances;
    let by_admin = app.balances().get_balance(refresh(&admin)).await.expect("by the admin").into_inner().balances;
    assert_eq!(on_demand().await, vec![first[0].id.clone()], "one row for three refreshes within a minute");
    assert_eq!(
        (second[0].id.as_str(), by_admin[0].id.as_str()),
        (first[0].id.as_str(), first[0].id.as_str()),
        "the last is reused"
    );
    assert_eq!(second[0].available_amount, "30.00");

    // A minute later, a refresh stores a new snapshot.
    app.execute("UPDATE balance_snapshots SET created_at = created_at - 61000000").await;
    let later = app.balances().get_balance(refresh(&merchant)).await.expect("later").into_inner().balances;
    assert_ne!(later[0].id, first[0].id);
    assert_eq!(on_demand().await.len(), 2);
    app.assert_ledger_ok();
    app.stop().await;
}
