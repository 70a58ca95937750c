use std::process::Command;

use api::proto::{self, GetPaymentRequest, GetUserPaymentsRequest, HealthCheckRequest};
use app::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{Db, JWT_SECRET, TestApp, authed, checkout_request, now, spawn_app, spawn_app_with, token};
use crate::on_both_databases;

on_both_databases!(
    callers_without_a_valid_token_are_unauthenticated,
    a_user_reads_and_creates_only_their_own_payments,
    reads_at_once_each_get_their_own_answer,
    a_token_must_be_valid_now_short_lived_and_for_this_service,
    the_token_command_signs_with_the_private_key_when_the_service_checks_a_public_key,
);

const BINARY: &str = env!("CARGO_BIN_EXE_vondipayment");

/// A change to a token's claims.
type Change<'a> = dyn Fn(&mut serde_json::Value) + 'a;

/// Test-only keys (never used outside the tests).
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether `token` may list user-1's payments; the refusal's message otherwise.
pub async fn lists_payments(app: &TestApp, token: &str) -> Result<(), String> {
    let request = GetUserPaymentsRequest { user_id: "user-1".into(), limit: 1, offset: 0 };
    match app.payments().get_user_payments(authed(request, token)).await {
        Ok(_) => Ok(()),
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{}", status.message());
            Err(status.message().to_owned())
        }
    }
}

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
    assert_eq!(status.code(), tonic::Code::NotFound, "another's payment is not found for bob");
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

/// Concurrent `GetPayment`s are read together (one statement for many): each still
/// gets its own payment with its own status (one of them paid), and another user's
/// payment and an unknown id are not found for it.
async fn reads_at_once_each_get_their_own_answer(db: Db) {
    let app = std::sync::Arc::new(spawn_app(db).await);
    let mut payments = Vec::new();
    for (n, user) in ["alice", "bob", "alice", "carol"].into_iter().enumerate() {
        let created = app.create_checkout(&token(user, &[Role::User]), checkout_request(user, &(n + 1).to_string(), "USD")).await;
        payments.push((user, created.expect("checkout").payment_id, n + 1));
    }
    let paid = app.paid_checkout("bob", "9", "USD").await;
    payments.push(("bob", paid.clone(), 9));
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut reads = tokio::task::JoinSet::new();
    for round in 0..6 {
        for reader in ["alice", "bob", "carol"] {
            for (owner, id, dollars) in payments.clone().into_iter().chain([("nobody", unknown.clone(), 0)]) {
                let app = app.clone();
                reads.spawn(async move {
                    let answer = app.get_payment(&token(reader, &[Role::User]), &id).await;
                    (round, reader, owner, id, dollars, answer)
                });
            }
        }
    }
    for (round, reader, owner, id, dollars, answer) in reads.join_all().await {
        if reader == owner {
            let payment = answer.unwrap_or_else(|status| panic!("{reader} reads {id} (round {round}): {status:?}"));
            assert_eq!((payment.id.as_str(), payment.user_id.as_str()), (id.as_str(), owner));
            assert_eq!(payment.amount, format!("{dollars}.00"));
            let settled = if id == paid { proto::PaymentStatus::Succeeded } else { proto::PaymentStatus::Pending };
            assert_eq!(payment.status, i32::from(settled), "{id}");
        } else {
            let status = answer.expect_err("not the reader's");
            assert_eq!(status.code(), tonic::Code::NotFound, "{reader} reads {owner}'s {id}: {status:?}");
        }
    }
    app.assert_ledger_ok();
    std::sync::Arc::into_inner(app).expect("the reads are done").stop().await;
}

async fn a_token_must_be_valid_now_short_lived_and_for_this_service(db: Db) {
    let app = spawn_app_with(
        db,
        &[("AUTH_ISSUER", "https://id.example"), ("AUTH_AUDIENCE", "payments"), ("AUTH_MAX_TOKEN_LIFETIME", "7d")],
    )
    .await;
    let now = now();
    let day = 86_400;
    let signed = |change: &Change<'_>| {
        let mut claims = json!({"sub": "user-1", "roles": ["user"], "iat": now, "exp": now + 3600,
            "iss": "https://id.example", "aud": ["payments", "reports"]});
        change(&mut claims);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()))
            .expect("token")
    };
    assert_eq!(lists_payments(&app, &signed(&|_| {})).await, Ok(()));
    let without = |claim: &'static str| {
        move |c: &mut serde_json::Value| {
            if let Some(claims) = c.as_object_mut() {
                claims.remove(claim);
            }
        }
    };
    let cases: [(&str, &Change<'_>, &str); 9] = [
        ("valid only in 5 days", &|c| (c["nbf"], c["exp"]) = (json!(now + 5 * day), json!(now + 5 * day + 3600)), "nbf"),
        ("expired 45 s ago (past the 30 s leeway)", &|c| c["exp"] = json!(now - 45), "expired"),
        ("valid for 8 days", &|c| c["exp"] = json!(now + 8 * day), "longer"),
        (
            "valid for 8 days, without iat",
            &|c| {
                without("iat")(c);
                c["exp"] = json!(now + 8 * day);
            },
            "longer",
        ),
        ("issued tomorrow", &|c| (c["iat"], c["exp"]) = (json!(now + day), json!(now + day + 60)), "iat"),
        ("from another issuer", &|c| c["iss"] = json!("https://evil.example"), "iss"),
        ("without an issuer", &without("iss"), "iss"),
        ("for another service", &|c| c["aud"] = json!("reports"), "aud"),
        ("without an audience", &without("aud"), "aud"),
    ];
    for (case, change, named) in cases {
        let refused = lists_payments(&app, &signed(change)).await.expect_err(case);
        assert!(refused.contains(named), "{case}: '{refused}' should name {named}");
    }
    app.stop().await;
}

async fn the_token_command_signs_with_the_private_key_when_the_service_checks_a_public_key(db: Db) {
    let public_key = fixture("jwt-rsa-public.pem");
    let app = spawn_app_with(db, &[("AUTH_JWT_PUBLIC_KEY_FILE", &public_key)]).await;
    let run = |args: &[&str]| {
        let output = Command::new(BINARY)
            .env_clear()
            .args(args)
            .env("VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE", &public_key)
            .env("VONDIPAYMENT_DATA_DIR", &app.data_dir)
            .output()
            .expect("runs");
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
        (output.status.success(), text(&output.stdout), text(&output.stderr))
    };
    let (ok, stdout, stderr) = run(&["token", "--sub", "user-1", "--role", "user"]);
    assert!(!ok && stdout.is_empty(), "no HS256 token the service would refuse: {stdout}");
    assert!(stderr.contains("--private-key") && stderr.contains("VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE"), "{stderr}");
    assert!(lists_payments(&app, &token("user-1", &[Role::User])).await.is_err(), "the service takes no HS256 token");

    let private_key = fixture("jwt-rsa-private.pem");
    let (ok, minted, stderr) = run(&["token", "--sub", "user-1", "--role", "user", "--private-key", &private_key]);
    assert!(ok, "{stderr}");
    assert_eq!(jsonwebtoken::decode_header(&minted).map(|h| h.alg).ok(), Some(Algorithm::RS256));
    assert_eq!(lists_payments(&app, &minted).await, Ok(()));

    let (ok, _, stderr) = run(&["token", "--sub", "user-1", "--ttl", "48h", "--private-key", &private_key]);
    assert!(!ok && stderr.contains("VONDIPAYMENT_AUTH_MAX_TOKEN_LIFETIME"), "{stderr}");
    let (ok, help, _) = run(&["token", "--help"]);
    assert!(ok && help.contains("--private-key") && help.contains("--sub") && help.contains("Examples"), "{help}");
    app.stop().await;
}
