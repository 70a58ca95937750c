use api::proto::{CreateCheckoutSessionRequest, GetPaymentRequest};
use app::Role;

use crate::helpers::{Db, authed, checkout_request, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(each_bad_field_is_named_and_changes_nothing);

async fn each_bad_field_is_named_and_changes_nothing(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    app.paid_checkout("user-1", "1", "USD").await;
    let before = app.row_counts().await;

    type Mutation = fn(&mut CreateCheckoutSessionRequest);
    let cases: Vec<(&str, Mutation)> = vec![
        ("amount", |r| r.amount = String::new()),
        ("amount", |r| r.amount = "abc".into()),
        ("amount", |r| r.amount = "-1".into()),
        ("amount", |r| r.amount = "10.555".into()),
        ("amount", |r| r.amount = "1e3".into()),
        ("amount", |r| r.amount = "123456789012345678901234567890".into()),
        ("amount", |r| r.amount = "0".into()),
        ("amount", |r| r.amount = "1000000.00".into()),
        ("currency", |r| r.currency = "ZZZ".into()),
        ("currency", |r| r.currency = "usd".into()),
        ("payment_type", |r| r.payment_type = 0),
        ("payment_type", |r| r.payment_type = 99),
        ("success_url", |r| r.success_url = "ftp://shop.example/ok".into()),
        ("cancel_url", |r| r.cancel_url = "not a url".into()),
        ("merchant_id", |r| r.merchant_id = "not-a-uuid".into()),
        ("merchant_id", |r| r.merchant_id = uuid::Uuid::nil().to_string()),
        ("merchant_id", |r| r.escrow_enabled = true),
        ("escrow_hold_days", |r| {
            r.escrow_enabled = true;
            r.merchant_id = uuid::Uuid::nil().to_string();
            r.escrow_hold_days = -3;
        }),
        ("idempotency_key", |r| r.idempotency_key = "k".repeat(256)),
        ("metadata", |r| r.metadata = (0..51).map(|n| (format!("k{n}"), "v".into())).collect()),
        ("metadata", |r| r.metadata = [("note".to_owned(), "v".repeat(501))].into()),
        ("gateway_name", |r| r.gateway_name = "paypal".into()),
        ("user_id", |r| r.user_id = String::new()),
    ];
    for (field, mutate) in cases {
        let mut request = checkout_request("user-1", "10.00", "USD");
        mutate(&mut request);
        let status = app.create_checkout(&buyer, request).await.expect_err(field);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}: {}", status.message());
        assert!(status.message().starts_with(field), "'{}' should name {field}", status.message());
    }

    for payment_id in ["", "not-a-uuid", "123"] {
        let status = app
            .payments()
            .get_payment(authed(GetPaymentRequest { payment_id: payment_id.into() }, &buyer))
            .await
            .expect_err("bad id");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with("payment_id"));
    }
    let missing = GetPaymentRequest { payment_id: uuid::Uuid::new_v4().to_string() };
    assert_eq!(app.payments().get_payment(authed(missing, &buyer)).await.expect_err("unknown").code(), tonic::Code::NotFound);

    let (status, _) = app.complete_on_mock_page("cs_mock_unknown", "success").await;
    assert_eq!(status, 404);
    let (status, _) = app.complete_on_mock_page("cs_mock_unknown", "maybe").await;
    assert_eq!(status, 400);

    assert_eq!(app.row_counts().await, before, "refused requests changed the database");
    app.assert_ledger_ok();
    app.stop().await;
}
