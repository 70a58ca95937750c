//! The operator console over real HTTP: who may read and act, and that its
//! refund and escrow release change the ledger exactly as the gRPC API does.

use std::collections::BTreeMap;

use api::proto::{
    CalculateFeeRequest, CreateRefundRequest, ListTransfersRequest, ReleaseEscrowHoldRequest, ReverseTransferRequest,
};
use sqlx::Row;

use crate::helpers::{Db, TestApp, authed, eventually};
use crate::marketplace::{admin, paid_order, spawn_marketplace};
use crate::on_both_databases;
use crate::pages::{WebSession, hidden};

on_both_databases!(a_refund_and_a_release_through_the_console_change_the_ledger_as_through_grpc);

/// Signs in through development's "sign in as" with one role.
pub(crate) async fn sign_in(web: &mut WebSession<'_>, user: &str, role: &str) {
    let login = web.get("/login").await;
    let csrf = hidden(&login.body, "csrf");
    let signed = web.post("/login/dev", &[("csrf", &csrf), ("user_id", user), (role, "on"), ("next", "/en/admin")]).await;
    assert_eq!((signed.status, signed.location()), (303, "/en/admin"), "{}", signed.body);
}

/// Every ledger account with money on it; the vendor's account id is named
/// `vendor` so two services' ledgers compare.
async fn ledger(app: &TestApp, vendor: &str) -> BTreeMap<String, i64> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&app.db_url).await.expect("pool");
    let rows = sqlx::query("SELECT id, balance FROM ledger_balances WHERE balance <> 0").fetch_all(&pool).await.expect("ledger");
    pool.close().await;
    rows.iter().map(|r| (r.get::<String, _>("id").replace(vendor, "vendor"), r.get::<i64, _>("balance"))).collect()
}

/// A vendor, an escrowed order of 100.00 and a plain one of 50.00.
pub async fn orders(app: &TestApp) -> (String, String, String) {
    let account = app.onboarded_account(&admin(), "merchant-1").await;
    let escrowed = app.paid_escrowed_order(&account, "100.00").await;
    let plain = paid_order(app, &account, "50.00").await;
    (account, escrowed, plain)
}

/// HTML's escaping of an API message, as the page shows it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;").replace('"', "&#34;").replace('\'', "&#39;").replace('<', "&#60;").replace('>', "&#62;")
}

async fn a_refund_and_a_release_through_the_console_change_the_ledger_as_through_grpc(db: Db) {
    let (console, grpc) = (spawn_marketplace(db).await, spawn_marketplace(db).await);
    let (vendor, escrowed, plain) = orders(&console).await;
    let (twin_vendor, twin_escrowed, twin_plain) = orders(&grpc).await;
    let mut web = WebSession::new(&console);
    sign_in(&mut web, "ops", "role_admin").await;

    let list = web.get("/en/admin?status=succeeded&user=buyer-1").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&escrowed) && list.body.contains(&plain));
    // The gateway filter is a choice of the service's gateways, not a free text.
    let by_gateway = web.get("/en/admin?gateway=mock").await;
    assert!(by_gateway.body.contains("<select id=\"gateway\" name=\"gateway\">"), "{}", by_gateway.body);
    assert!(by_gateway.body.contains("<option selected>mock</option>") && by_gateway.body.contains(&plain));
    let none = web.get("/sr/admin?status=refunded").await;
    assert!(!none.body.contains(&plain) && none.body.contains("Pronađeno: 0"), "{}", none.body);
    let bad = web.get("/en/admin?from=31.01.2026").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"from-error\"") && bad.body.contains("YYYY-MM-DD"), "{}", bad.body);

    let page = web.get(&format!("/en/admin/payments/{plain}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("platform_cash:USD") && page.body.contains("checkout.session.completed"), "{}", page.body);
    let csrf = hidden(&page.body, "csrf");
    let key = hidden(&page.body, "idempotency_key");
    let refund_path = format!("/en/admin/payments/{plain}/refund");

    // A form without its token changes nothing.
    let before = ledger(&console, &vendor).await;
    let forged = web.post(&refund_path, &[("amount", "30.00"), ("reason", "forged"), ("idempotency_key", &key)]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(ledger(&console, &vendor).await, before);

    let refunded =
        web.post(&refund_path, &[("csrf", &csrf), ("amount", "30.00"), ("reason", "damaged"), ("idempotency_key", &key)]).await;
    assert_eq!(
        (refunded.status, refunded.location()),
        (303, format!("/en/admin/payments/{plain}?notice=refunded").as_str()),
        "{}",
        refunded.body
    );
    let twin = CreateRefundRequest {
        payment_id: twin_plain.clone(),
        amount: "30.00".into(),
        reason: "damaged".into(),
        idempotency_key: "k-1".into(),
    };
    grpc.refunds().create_refund(authed(twin, &admin())).await.expect("gRPC refund");

    // More than the rest: the API's own message, beside the amount.
    let over = CreateRefundRequest {
        payment_id: twin_plain.clone(),
        amount: "20.01".into(),
        reason: String::new(),
        idempotency_key: String::new(),
    };
    let message = grpc.refunds().create_refund(authed(over, &admin())).await.expect_err("over the rest").message().to_owned();
    let shown = web.post(&refund_path, &[("csrf", &csrf), ("amount", "20.01"), ("idempotency_key", "k-over")]).await;
    assert_eq!(shown.status, 400);
    assert!(shown.body.contains("id=\"amount-error\"") && shown.body.contains(&escaped(&message)), "{message}: {}", shown.body);

    let hold = console.hold_of(&escrowed).await;
    let detail = web.get(&format!("/en/admin/payments/{escrowed}")).await;
    assert!(detail.body.contains(&format!("name=\"escrow_id\" value=\"{}\"", hold.id)), "{}", detail.body);
    let release_path = format!("/en/admin/payments/{escrowed}/release");
    let released = web.post(&release_path, &[("csrf", &csrf), ("escrow_id", &hold.id)]).await;
    assert_eq!((released.status, released.location()), (303, format!("/en/admin/payments/{escrowed}?notice=released").as_str()));
    let twin_hold = grpc.hold_of(&twin_escrowed).await;
    grpc.escrow()
        .release_escrow_hold(authed(ReleaseEscrowHoldRequest { escrow_id: twin_hold.id }, &admin()))
        .await
        .expect("gRPC release");
    let again = web.post(&release_path, &[("csrf", &csrf), ("escrow_id", &hold.id)]).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("id=\"escrow-error\""), "{}", again.body);

    // Released: its money went to the vendor, so a refund reverses the vendor's
    // transfer by the amount first, then refunds; the twin does the same over gRPC.
    let detail = web.get(&format!("/en/admin/payments/{escrowed}")).await;
    let refund_key = hidden(&detail.body, "idempotency_key");
    let released_refund = web
        .post(
            &format!("/en/admin/payments/{escrowed}/refund"),
            &[("csrf", &csrf), ("amount", "10.00"), ("reason", "late"), ("idempotency_key", &refund_key)],
        )
        .await;
    assert_eq!(released_refund.status, 303, "{}", released_refund.body);
    assert_eq!(console.get_payment(&admin(), &escrowed).await.expect("payment").refunded_amount, "10.00");
    let listed = ListTransfersRequest { connected_account_id: twin_vendor.clone(), limit: 100, offset: 0 };
    let twin_transfers = grpc.transfers().list_transfers(authed(listed, &admin())).await.expect("transfers").into_inner();
    let twin_transfer = twin_transfers.transfers.iter().find(|t| t.payment_id == twin_escrowed).expect("the release's transfer");
    let reverse = ReverseTransferRequest {
        transfer_id: twin_transfer.id.clone(),
        amount: "10.00".into(),
        description: String::new(),
        idempotency_key: String::new(),
    };
    grpc.transfers().reverse_transfer(authed(reverse, &admin())).await.expect("gRPC reversal");
    let twin_refund = CreateRefundRequest {
        payment_id: twin_escrowed.clone(),
        amount: "10.00".into(),
        reason: "late".into(),
        idempotency_key: String::new(),
    };
    grpc.refunds().create_refund(authed(twin_refund, &admin())).await.expect("gRPC refund of a released payment");

    let payment = console.get_payment(&admin(), &plain).await.expect("payment");
    assert_eq!(payment.refunded_amount, "30.00");
    let same = eventually("the same ledger on both services", || async {
        let (mine, theirs) = (ledger(&console, &vendor).await, ledger(&grpc, &twin_vendor).await);
        (mine == theirs).then_some(mine)
    })
    .await;
    assert!(same.keys().any(|account| account.contains("vendor")), "{same:?}");
    let accounts = web.get("/en/admin/accounts").await;
    assert!(accounts.body.contains(&format!("/en/admin/accounts/{vendor}")), "{}", accounts.body);
    let account = web.get(&format!("/sr/admin/accounts/{vendor}")).await;
    assert_eq!(account.status, 200);
    let transfer = format!("/sr/admin/payments/{escrowed}");
    assert!(account.body.contains(&transfer) && account.body.contains("<polyline"), "{}", account.body);
    let log = web.get("/ru/admin/webhooks").await;
    assert_eq!(log.status, 200);
    assert!(
        log.body.contains("checkout.session.completed") && log.body.contains(&format!("/ru/admin/payments/{plain}")),
        "{}",
        log.body
    );
    let check = web.get("/sr/admin/ledger").await;
    assert!(check.body.contains("id=\"ledger-ok\""), "{}", check.body);
    let after = web.get(&format!("/en/admin/payments/{escrowed}?notice=released")).await;
    assert!(
        after.body.contains("<td>Escrow released <small>") && !after.body.contains("id=\"release-submit\""),
        "{}",
        after.body
    );
    console.assert_ledger_ok();
    grpc.assert_ledger_ok();
    console.stop().await;
    grpc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_role_reads_only_and_an_admin_cancels_an_escrow() {
    let app = spawn_marketplace(Db::Sqlite).await;
    let (vendor, escrowed, plain) = orders(&app).await;
    let path = format!("/ru/admin/payments/{plain}");

    let mut nobody = WebSession::new(&app);
    let away = nobody.get(&path).await;
    assert_eq!(away.status, 303);
    assert!(away.location().starts_with("/login?lang=ru"), "{}", away.location());
    let mut user = WebSession::new(&app);
    sign_in(&mut user, "buyer-1", "role_user").await;
    assert_eq!(user.get("/en/admin").await.status, 403);
    assert!(!user.get("/en/balance").await.body.contains("id=\"console-link\""), "a user's header has no console link");
    for page in [path.as_str(), "/en/admin/webhooks", "/en/admin/ledger", "/en/admin/accounts", "/en/admin/splits"] {
        assert_eq!(user.get(page).await.status, 403, "{page}");
    }

    let mut service = WebSession::new(&app);
    sign_in(&mut service, "backend", "role_service").await;
    let wallet = service.get("/sr").await;
    assert!(wallet.body.contains("<a href=\"/sr/admin\" id=\"console-link\">Konzola</a>"), "{}", wallet.body);
    let page = service.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("platform_cash:USD") && !page.body.contains("id=\"refund-submit\""), "{}", page.body);
    let csrf = hidden(&page.body, "csrf");
    let before = ledger(&app, &vendor).await;
    let refused =
        service.post(&format!("{path}/refund"), &[("csrf", &csrf), ("amount", "1.00"), ("idempotency_key", "k-s")]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Ваша роль"), "{}", refused.body);
    assert_eq!(ledger(&app, &vendor).await, before);
    assert_eq!(app.get_payment(&admin(), &plain).await.expect("payment").refunded_amount, "0.00");
    // A broken ledger is shown, not hidden.
    app.execute("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = 'platform_cash:USD'").await;
    let broken = service.get("/en/admin/ledger").await;
    assert!(broken.body.contains("id=\"ledger-broken\"") && broken.body.contains("platform_cash:USD"), "{}", broken.body);
    app.execute("UPDATE ledger_accounts SET balance = balance - 1 WHERE id = 'platform_cash:USD'").await;

    let mut ops = WebSession::new(&app);
    sign_in(&mut ops, "ops", "role_admin").await;
    let unpaid = app.onboarded_account(&admin(), "merchant-unpaid").await;
    let never_paid = ops.get(&format!("/en/admin/accounts/{unpaid}")).await;
    assert!(never_paid.body.contains("No money yet"), "a vendor never paid: {}", never_paid.body);
    for locale in ["en", "sr", "ru"] {
        let lists =
            ["admin", "admin/accounts", "admin/splits", "admin/webhooks", "admin/ledger", "admin/events"].map(str::to_owned);
        let objects =
            [format!("admin/payments/{plain}"), format!("admin/payments/{escrowed}"), format!("admin/accounts/{vendor}")];
        for page in lists.iter().chain(&objects) {
            let shown = ops.get(&format!("/{locale}/{page}")).await;
            assert_eq!(shown.status, 200, "/{locale}/{page}");
            assert!(!shown.body.contains(pages::i18n::MISSING), "/{locale}/{page} has an untranslated text: {}", shown.body);
        }
    }
    let hold = app.hold_of(&escrowed).await;
    let page = ops.get(&format!("/en/admin/payments/{escrowed}")).await;
    let cancel = [("csrf", hidden(&page.body, "csrf")), ("escrow_id", hold.id.clone()), ("reason", "buyer left".into())];
    let cancelled = ops
        .post(&format!("/en/admin/payments/{escrowed}/cancel"), &cancel.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
        .await;
    assert_eq!(cancelled.location(), format!("/en/admin/payments/{escrowed}?notice=cancelled"), "{}", cancelled.body);
    let shown = ops.get(cancelled.location()).await;
    assert!(
        shown.body.contains("The escrow was cancelled.") && shown.body.contains("id=\"escrow-status\">Cancelled"),
        "{}",
        shown.body
    );
    app.assert_ledger_ok();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_rules_are_created_edited_and_deleted_and_the_fee_calculator_agrees_with_grpc() {
    let app = spawn_marketplace(Db::Sqlite).await;
    let vendor = app.onboarded_account(&admin(), "merchant-1").await;
    let mut ops = WebSession::new(&app);
    sign_in(&mut ops, "ops", "role_admin").await;
    let page = ops.get("/en/admin/splits").await;
    assert_eq!(page.status, 200);
    let csrf = hidden(&page.body, "csrf");
    let rule = [
        ("csrf", csrf.as_str()),
        ("account", vendor.as_str()),
        ("kind", "percentage"),
        ("name", "Ten"),
        ("value", "10"),
        ("priority", "1"),
    ];
    let bad: Vec<_> = rule.iter().map(|&(k, v)| if k == "value" { (k, "abc") } else { (k, v) }).collect();
    let refused = ops.post("/en/admin/splits", &bad).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("id=\"rule-value-error\""), "{}", refused.body);
    let created = ops.post("/en/admin/splits", &rule).await;
    assert_eq!((created.status, created.location()), (303, "/en/admin/splits?notice=created"), "{}", created.body);
    let listed = ops.get(created.location()).await;
    assert!(
        listed.body.contains("The rule was created.") && listed.body.contains("<td class=\"num\">10 %</td>"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("id=\"one-rule\""), "the calculator says rules do not add up");

    let fee_path = format!("/en/admin/splits?account={vendor}&amount=100.00&currency=USD");
    let quote = ops.get(&fee_path).await;
    let grpc = CalculateFeeRequest { connected_account_id: vendor.clone(), amount: "100.00".into(), currency: "USD".into() };
    let grpc = app.splits().calculate_fee(authed(grpc, &admin())).await.expect("fee").into_inner();
    assert_eq!(grpc.total_fee, "10.00");
    assert!(
        quote.body.contains("<dd class=\"fee\">$10.00</dd>") && quote.body.contains("$90.00") && quote.body.contains("Ten"),
        "{}",
        quote.body
    );

    let id =
        quote.body.split("/en/admin/splits/").nth(1).and_then(|rest| rest.split('"').next()).expect("a rule link").to_owned();
    let edit = ops.get(&format!("/en/admin/splits/{id}")).await;
    assert!(edit.body.contains("value=\"10\""), "{}", edit.body);
    let five = [("csrf", csrf.as_str()), ("name", "Five"), ("value", "5"), ("priority", "1"), ("active", "on")];
    assert_eq!(ops.post(&format!("/en/admin/splits/{id}"), &five).await.location(), "/en/admin/splits?notice=saved");
    assert!(ops.get(&fee_path).await.body.contains("<dd class=\"fee\">$5.00</dd>"));

    let mut service = WebSession::new(&app);
    sign_in(&mut service, "backend", "role_service").await;
    let read = service.get("/en/admin/splits").await;
    assert!(read.body.contains("Five") && !read.body.contains("id=\"rule-create\""), "{}", read.body);
    let service_csrf = hidden(&read.body, "csrf");
    assert_eq!(service.post(&format!("/en/admin/splits/{id}/delete"), &[("csrf", service_csrf.as_str())]).await.status, 403);
    assert!(ops.get("/en/admin/splits").await.body.contains("Five"), "the service deleted nothing");

    // Delete asks first (a page, no script), and only the confirmation deletes.
    let asked = ops.post(&format!("/en/admin/splits/{id}/delete"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(asked.status, 200);
    assert!(
        asked.body.contains("id=\"confirm-delete\"") && asked.body.contains("name=\"confirm\" value=\"yes\""),
        "{}",
        asked.body
    );
    assert!(ops.get("/en/admin/splits").await.body.contains("Five"), "not deleted before the confirmation");
    let deleted = ops.post(&format!("/en/admin/splits/{id}/delete"), &[("csrf", csrf.as_str()), ("confirm", "yes")]).await;
    assert_eq!(deleted.location(), "/en/admin/splits?notice=deleted");
    let after = ops.get(deleted.location()).await;
    assert!(!after.body.contains("Five") && after.body.contains("The rule was deleted."), "{}", after.body);
    assert!(ops.get(&fee_path).await.body.contains("<dd class=\"fee\">$0.00</dd>"));
    app.assert_ledger_ok();
    app.stop().await;
}
