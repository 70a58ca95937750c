//! The fake over real HTTP, as the Stripe adapter will use it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

use std::time::Duration;

use helpers::{Call, KEY, call, spawn};

#[tokio::test]
async fn a_wrong_key_is_refused_with_401_without_echoing_it_and_is_recorded() {
    let client = spawn().await;
    let options = Call { api_key: "sk_test_wrong_secret", ..call("k1") };
    let reply = client.post("/v1/accounts", options, &[("type", "express")]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid API Key provided: sk_test_"), "{message}");
    assert!(!message.contains("wrong_secret"), "{message}");
    let requests = client.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, 401);
    assert_eq!(requests[0].form, vec![("type".to_string(), "express".to_string())]);
    assert!(client.fake.objects("account").is_empty());
}

#[tokio::test]
async fn an_unknown_parameter_is_refused_naming_it() {
    let client = spawn().await;
    let reply = client.post("/v1/accounts", call("k1"), &[("type", "express"), ("colour", "blue")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["message"], "Received unknown parameter: colour");
    assert_eq!(reply.error_param(), Some("colour"));

    // A validation error is not stored: the same key with good parameters then runs.
    let reply = client.post("/v1/accounts", call("k1"), &[("type", "express")]).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.replayed);
}

#[tokio::test]
async fn a_replay_returns_the_same_object_and_creates_nothing() {
    let client = spawn().await;
    let form = [("type", "express"), ("metadata[vendor_id]", "v1")];
    let first = client.post("/v1/accounts", call("acct-v1"), &form).await;
    let second = client.post("/v1/accounts", call("acct-v1"), &form).await;
    assert_eq!(first.status, 200);
    assert!(!first.replayed);
    assert_eq!(second.status, 200);
    assert!(second.replayed);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(client.fake.objects("account").len(), 1);
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_is_an_idempotency_error() {
    let client = spawn().await;
    client.post("/v1/accounts", call("k1"), &[("type", "express")]).await;
    let reply = client.post("/v1/accounts", call("k1"), &[("type", "custom")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["type"], "idempotency_error");
    let other_path = client.post("/v1/transfers", call("k1"), &[("type", "express")]).await;
    assert_eq!(other_path.body["error"]["type"], "idempotency_error");
    assert_eq!(client.fake.objects("account").len(), 1);
}

#[tokio::test]
async fn a_post_without_idempotency_key_is_refused() {
    let client = spawn().await;
    let options = Call { idempotency_key: None, ..call("") };
    let reply = client.post("/v1/accounts", options, &[("type", "express")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["message"], "Idempotency-Key header is required by this fake");
}

#[tokio::test]
async fn an_injected_failure_is_not_stored_so_the_retry_runs_for_real() {
    let client = spawn().await;
    client.fake.fail_next("/v1/accounts", 500, 1);
    let failed = client.post("/v1/accounts", call("k1"), &[("type", "express")]).await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.body["error"]["type"], "api_error");
    let retried = client.post("/v1/accounts", call("k1"), &[("type", "express")]).await;
    assert_eq!(retried.status, 200);
    assert!(!retried.replayed);
    assert_eq!(client.fake.objects("account").len(), 1);

    client.fake.fail_next("/v1/checkout", 402, 1);
    let declined = client.post("/v1/checkout/sessions", call("k2"), &[]).await;
    assert_eq!(declined.status, 402);
    assert_eq!(declined.body["error"]["decline_code"], "generic_decline");
}

#[tokio::test]
async fn a_hung_request_creates_nothing_and_the_retry_succeeds() {
    let client = spawn().await;
    client.fake.hang_next("/v1/accounts", 1);
    let options = Call { timeout: Some(Duration::from_millis(300)), ..call("k1") };
    let timed_out = client.send(reqwest::Method::POST, "/v1/accounts", options, &[("type", "express")]).await;
    assert!(timed_out.is_err());
    assert!(client.fake.objects("account").is_empty());
    let retried = client.post("/v1/accounts", call("k1"), &[("type", "express")]).await;
    assert_eq!(retried.status, 200);
    let statuses: Vec<u16> = client.fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 200]);
}

#[tokio::test]
async fn an_unknown_url_is_stripes_404() {
    let client = spawn().await;
    let reply = client.get("/v1/customers", None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body["error"]["message"].as_str().unwrap().starts_with("Unrecognized request URL (GET: /v1/customers)"));
}

#[tokio::test]
async fn upper_case_currency_is_refused() {
    let client = spawn().await;
    let account = client.create_account("acct").await;
    let reply =
        client.post("/v1/transfers", call("t1"), &[("amount", "100"), ("currency", "EUR"), ("destination", &account)]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_param(), Some("currency"));
}

#[tokio::test]
async fn a_session_is_paid_refunded_transferred_reversed_and_paid_out() {
    let client = spawn().await;
    let (pi, charge) = client.paid_payment("session-1").await;
    let intent = client.get(&format!("/v1/payment_intents/{pi}"), None).await;
    assert_eq!(intent.body["status"], "succeeded");
    assert_eq!(intent.body["metadata"]["payment_id"], "pay_1");
    assert_eq!(intent.body["transfer_group"], "group_1");

    // Refunds: partial, then too much, then the rest, then nothing left.
    let refund = client
        .post("/v1/refunds", call("r1"), &[("payment_intent", &pi), ("amount", "1000"), ("reason", "requested_by_customer")])
        .await;
    assert_eq!(refund.body["status"], "succeeded");
    assert_eq!(refund.body["charge"], charge.as_str());
    let too_much = client.post("/v1/refunds", call("r2"), &[("payment_intent", &pi), ("amount", "4001")]).await;
    assert_eq!((too_much.status, too_much.error_param()), (400, Some("amount")));
    let rest = client.post("/v1/refunds", call("r3"), &[("payment_intent", &pi)]).await;
    assert_eq!(rest.body["amount"], 4000);
    let none_left = client.post("/v1/refunds", call("r4"), &[("payment_intent", &pi)]).await;
    assert_eq!(none_left.body["error"]["code"], "charge_already_refunded");
    let missing = client.post("/v1/refunds", call("r5"), &[("payment_intent", "pi_nope")]).await;
    assert_eq!((missing.status, missing.body["error"]["code"].as_str()), (404, Some("resource_missing")));

    // A business error is stored: the same key answers the same.
    let replay = client.post("/v1/refunds", call("r2"), &[("payment_intent", &pi), ("amount", "4001")]).await;
    assert!(replay.replayed);
    assert_eq!(replay.status, 400);

    // Money to a vendor and back out.
    let account = client.create_account("acct").await;
    let link = client
        .post(
            "/v1/account_links",
            call("l1"),
            &[("account", &account), ("type", "account_onboarding"), ("refresh_url", "https://r"), ("return_url", "https://b")],
        )
        .await;
    assert!(link.body["url"].as_str().unwrap().contains(&account));
    let transfer = client
        .post(
            "/v1/transfers",
            call("t1"),
            &[("amount", "3000"), ("currency", "eur"), ("destination", &account), ("source_transaction", &charge)],
        )
        .await;
    assert_eq!(transfer.status, 200, "{:?}", transfer.body);
    let transfer_id = transfer.body["id"].as_str().unwrap().to_string();
    let reversal = client.post(&format!("/v1/transfers/{transfer_id}/reversals"), call("v1"), &[("amount", "500")]).await;
    assert_eq!(reversal.body["object"], "transfer_reversal");
    assert_eq!(client.fake.object(&transfer_id).unwrap()["amount_reversed"], 500);

    let as_vendor = |key| Call { account: Some(account.as_str()), ..call(key) };
    let balance = client.get("/v1/balance", Some(&account)).await;
    assert_eq!(
        balance.body["available"][0],
        serde_json::json!({"amount": 2500, "currency": "eur", "source_types": {"card": 2500}})
    );
    let short = client.post("/v1/payouts", as_vendor("p1"), &[("amount", "2501"), ("currency", "eur")]).await;
    assert_eq!(short.body["error"]["code"], "balance_insufficient");
    let payout = client
        .post("/v1/payouts", as_vendor("p2"), &[("amount", "2500"), ("currency", "eur"), ("statement_descriptor", "SHOP PAYOUT")])
        .await;
    assert_eq!(payout.body["status"], "pending");
    let payout_id = payout.body["id"].as_str().unwrap().to_string();
    assert_eq!(client.get("/v1/balance", Some(&account)).await.body["available"][0]["amount"], 0);
    let cancelled = client.post(&format!("/v1/payouts/{payout_id}/cancel"), as_vendor("p3"), &[]).await;
    assert_eq!(cancelled.body["status"], "canceled");
    assert_eq!(client.get("/v1/balance", Some(&account)).await.body["available"][0]["amount"], 2500);

    // The platform does not see the vendor's payout.
    let platform_cancel = client.post(&format!("/v1/payouts/{payout_id}/cancel"), call("p4"), &[]).await;
    assert_eq!(platform_cancel.status, 400);
    let stranger = client
        .post("/v1/payouts", Call { account: Some("acct_unknown"), ..call("p5") }, &[("amount", "1"), ("currency", "eur")])
        .await;
    assert_eq!(stranger.status, 403);

    let recorded = client.fake.requests();
    assert!(recorded.iter().all(|r| r.stripe_version.as_deref() == Some(helpers::VERSION)));
    assert!(recorded.iter().any(|r| r.stripe_account.as_deref() == Some(account.as_str())));
    assert_eq!(KEY.len(), 23);
}

#[tokio::test]
async fn balance_transactions_list_the_platforms_movements_newest_first_in_pages() {
    let client = spawn().await;
    let (_, charge) = client.paid_payment("pay").await;
    let account = client.create_account("acct").await;
    let transfer =
        client.post("/v1/transfers", call("tr"), &[("amount", "3000"), ("currency", "eur"), ("destination", &account)]).await;
    let transfer_id = transfer.body["id"].as_str().unwrap().to_string();
    let list = "/v1/balance_transactions?limit=1&expand[]=data.source&created[gte]=0";
    let first = client.get(list, None).await;
    assert_eq!((first.status, first.body["has_more"].as_bool()), (200, Some(true)), "{:?}", first.body);
    let newest = &first.body["data"][0];
    assert_eq!((newest["type"].as_str(), newest["amount"].as_i64()), (Some("transfer"), Some(-3000)));
    assert_eq!(newest["source"]["id"], transfer_id.as_str(), "the source is expanded");
    let after = newest["id"].as_str().unwrap();
    let second = client.get(&format!("{list}&starting_after={after}"), None).await;
    assert_eq!(second.body["has_more"], false);
    assert_eq!(second.body["data"][0]["source"]["id"], charge.as_str());
    assert_eq!(second.body["data"][0]["amount"], 5000);

    let future = client.get("/v1/balance_transactions?created[gte]=99999999999", None).await;
    assert_eq!(future.body["data"].as_array().map(Vec::len), Some(0));
    let unknown = client.get("/v1/balance_transactions?starting_after=txn_nope", None).await;
    assert_eq!(unknown.status, 404);
    let options = Call { api_key: "sk_test_wrong_secret", idempotency_key: None, ..call("") };
    let refused = client.send(reqwest::Method::GET, "/v1/balance_transactions", options, &[]).await.unwrap();
    assert_eq!(refused.status, 401);

    assert_eq!(client.get(&format!("/v1/transfers/{transfer_id}"), None).await.body["amount"], 3000);
    client.fake.set_amount(&transfer_id, 2999);
    assert_eq!(client.get(&format!("/v1/transfers/{transfer_id}"), None).await.body["amount"], 2999);
    assert!(client.fake.forget(&transfer_id));
    assert_eq!(client.get(&format!("/v1/transfers/{transfer_id}"), None).await.status, 404);
    let left = client.get("/v1/balance_transactions", None).await;
    assert_eq!(left.body["data"].as_array().map(Vec::len), Some(1), "a forgotten transfer is not listed");
}

#[tokio::test]
async fn a_payout_is_read_by_id_only_with_its_accounts_header() {
    let client = spawn().await;
    let (_, charge) = client.paid_payment("pay").await;
    let account = client.create_account("acct").await;
    let form =
        [("amount", "3000"), ("currency", "eur"), ("destination", account.as_str()), ("source_transaction", charge.as_str())];
    assert_eq!(client.post("/v1/transfers", call("tr"), &form).await.status, 200);
    let options = Call { account: Some(&account), ..call("po") };
    let payout = client.post("/v1/payouts", options, &[("amount", "1000"), ("currency", "eur")]).await;
    let id = payout.body["id"].as_str().unwrap().to_string();
    let found = client.get(&format!("/v1/payouts/{id}"), Some(&account)).await;
    assert_eq!((found.status, found.body["amount"].as_i64()), (200, Some(1000)));
    assert_eq!(client.get(&format!("/v1/payouts/{id}"), None).await.status, 404, "the platform does not see it");
    let theirs = client.get("/v1/balance_transactions", Some(&account)).await;
    assert_eq!(theirs.body["data"][0]["type"], "payout");
    assert_eq!(theirs.body["data"][0]["amount"], -1000);
}
