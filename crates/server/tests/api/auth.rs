use api::proto::{GetPaymentRequest, HealthCheckRequest};
use app::Role;

use crate::helpers::{Db, authed, checkout_request, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(callers_without_a_valid_token_are_unauthenticated, a_user_reads_and_creates_only_their_own_payments);

async fn callers_without_a_valid_token_are_unauthenticated(db: Db) {
    let app = spawn_app(db).await;
    let health = app.payments().health_check(HealthCheckRequest {}).await.expect("HealthCheck needs no token");
    assert_eq!(health.into_inner().status, "SERVING");

    let request = || GetPaymentRequest { payment_id: uuid::Uuid::new_v4().to_string() };
    let status = app.payments().get_payment(request()).await.expect_err("no token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let forged = api::mint_hs256(b"another-secret", "user-1", &[Role::Admin], chrono::Duration::hours(1)).expect("token");
    let expired = api::mint_hs256(crate::helpers::JWT_SECRET.as_bytes(), "user-1", &[Role::User], chrono::Duration::hours(-2))
        .expect("token");
    for (case, token) in [("forged", forged.as_str()), ("expired", expired.as_str()), ("garbage", "abc.def.ghi")] {
        let status = app.payments().get_payment(authed(request(), token)).await.expect_err(case);
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{case}");
    }
    app.stop().await;
}

async fn a_user_reads_and_creates_only_their_own_payments(db: Db) {
    let app = spawn_app(db).await;
    let alice = token("alice", &[Role::User]);
    let bob = token("bob", &[Role::User]);
    let created = app.create_checkout(&alice, checkout_request("alice", "10", "USD")).await.expect("alice pays");

    let status = app.get_payment(&bob, &created.payment_id).await.expect_err("bob reads alice's payment");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let before = app.row_counts().await;
    let status = app.create_checkout(&bob, checkout_request("alice", "10", "USD")).await.expect_err("bob pays as alice");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before);

    let list = api::proto::GetUserPaymentsRequest { user_id: "alice".into(), limit: 10, offset: 0 };
    let status = app.payments().get_user_payments(authed(list.clone(), &bob)).await.expect_err("bob lists alice's");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let admin = token("ops", &[Role::Admin]);
    assert_eq!(app.get_payment(&admin, &created.payment_id).await.expect("admin reads").user_id, "alice");
    assert_eq!(app.payments().get_user_payments(authed(list, &admin)).await.expect("admin lists").into_inner().total, 1);
    app.stop().await;
}
