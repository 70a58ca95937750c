use app::Role;

use crate::helpers::{Db, checkout_request, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(
    a_retry_with_the_same_key_returns_the_first_payment,
    simultaneous_identical_requests_make_one_payment,
    the_same_key_with_a_different_request_is_refused,
    keys_are_scoped_to_the_caller,
    metadata_that_only_looks_alike_is_a_different_request,
);

async fn a_retry_with_the_same_key_returns_the_first_payment(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "10.00", "USD");
    request.idempotency_key = "order-42".into();
    let first = app.create_checkout(&buyer, request.clone()).await.expect("first");
    let second = app.create_checkout(&buyer, request).await.expect("retry");
    assert_eq!(first, second);
    assert_eq!(app.row_counts().await["payments"], 1);
    app.stop().await;
}

async fn simultaneous_identical_requests_make_one_payment(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "10.00", "USD");
    request.idempotency_key = "same-moment".into();
    let calls = (0..12).map(|_| {
        let client = app.payments();
        let request = crate::helpers::authed(request.clone(), &buyer);
        tokio::spawn(async move { client.clone().create_checkout_session(request).await.map(|r| r.into_inner()) })
    });
    let mut payment_ids = std::collections::BTreeSet::new();
    for call in calls.collect::<Vec<_>>() {
        let response = call.await.expect("task").expect("every caller gets the payment");
        assert!(!response.checkout_url.is_empty());
        payment_ids.insert(response.payment_id);
    }
    assert_eq!(payment_ids.len(), 1, "one payment for all callers");
    assert_eq!(app.row_counts().await["payments"], 1);
    app.stop().await;
}

async fn the_same_key_with_a_different_request_is_refused(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "10.00", "USD");
    request.idempotency_key = "order-43".into();
    app.create_checkout(&buyer, request.clone()).await.expect("first");
    let before = app.row_counts().await;
    request.amount = "11.00".into();
    let refused = app.create_checkout(&buyer, request).await.expect_err("different request");
    assert_eq!(refused.code(), tonic::Code::AlreadyExists);
    assert!(refused.message().contains("idempotency_key"), "{}", refused.message());
    assert_eq!(app.row_counts().await, before);
    app.stop().await;
}

async fn keys_are_scoped_to_the_caller(db: Db) {
    let app = spawn_app(db).await;
    let mut request = checkout_request("user-1", "10.00", "USD");
    request.idempotency_key = "shared-key".into();
    let first = app.create_checkout(&token("user-1", &[Role::User]), request.clone()).await.expect("user-1");
    request.user_id = "user-2".into();
    let second = app.create_checkout(&token("user-2", &[Role::User]), request).await.expect("user-2");
    assert_ne!(first.payment_id, second.payment_id);
    app.stop().await;
}

async fn metadata_that_only_looks_alike_is_a_different_request(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    let mut request = checkout_request("user-1", "10.00", "USD");
    request.idempotency_key = "order-44".into();
    request.metadata = [("a".to_owned(), "b=c".to_owned())].into();
    app.create_checkout(&buyer, request.clone()).await.expect("first");
    request.metadata = [("a=b".to_owned(), "c".to_owned())].into();
    let refused = app.create_checkout(&buyer, request).await.expect_err("different metadata");
    assert_eq!(refused.code(), tonic::Code::AlreadyExists);
    app.stop().await;
}
