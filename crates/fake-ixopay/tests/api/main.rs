//! The fake over real HTTP, as the AllSecure adapter will use it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod callbacks;
mod faults;
mod helpers;
mod references;
mod register;

use fake_ixopay::sign;
use helpers::{API_KEY, CONTENT_TYPE, Call, PASSWORD, call, debit, spawn};
use serde_json::json;

#[tokio::test]
async fn a_debit_is_answered_redirect_with_a_redirect_url_and_stored() {
    let client = spawn().await;
    let reply = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["returnType"], "REDIRECT");
    let uuid = reply.body["uuid"].as_str().unwrap();
    assert!((20..=32).contains(&uuid.len()) && uuid.chars().all(|c| c.is_ascii_hexdigit()), "{uuid}");
    assert_eq!(reply.body["redirectUrl"], format!("https://asxgw.paymentsandbox.cloud/redirect/{uuid}"));
    let purchase_id = reply.body["purchaseId"].as_str().unwrap();
    assert!(purchase_id.len() == 9 + uuid.len() && purchase_id.ends_with(uuid), "{purchase_id}");
    let stored = client.fake.transaction(uuid).unwrap();
    assert_eq!(stored["status"], "REDIRECT");
    assert_eq!(stored["transactionType"], "DEBIT");
    assert_eq!(stored["amount"], "9.99");
    assert_eq!(stored["merchantTransactionId"], "order-1");
    let requests = client.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri, format!("/api/v3/transaction/{API_KEY}/debit"));
    assert_eq!(requests[0].body["amount"], "9.99");
    assert!(requests[0].headers.iter().any(|(name, _)| name == "x-signature"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401_and_the_hashed_one_is_accepted() {
    let client = spawn().await;
    let wrong = Call { password: "guess".into(), ..call() };
    let reply = client.transact("debit", &debit("order-1", "9.99"), &wrong).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["success"], false);
    assert!(reply.error_code().is_some());
    assert!(!reply.body.to_string().contains("guess"));
    assert!(client.fake.transactions().is_empty());
    assert_eq!(client.fake.requests()[0].status, 401);

    let hashed = (0..10).fold(PASSWORD.to_string(), |text, _| {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(text.as_bytes()))
    });
    let reply = client.transact("debit", &debit("order-1", "9.99"), &Call { password: hashed, ..call() }).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(client.fake.transactions().len(), 1);
}

#[tokio::test]
async fn a_bad_signature_is_refused_with_1004_and_stores_nothing() {
    let client = spawn().await;
    let reply =
        client.transact("debit", &debit("order-1", "9.99"), &Call { secret: Some("not-the-secret".into()), ..call() }).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorCode"], 1004);
    let unsigned = client.transact("debit", &debit("order-1", "9.99"), &Call { secret: None, ..call() }).await;
    assert_eq!(unsigned.body["errorCode"], 1004);
    assert!(client.fake.transactions().is_empty());
    assert_eq!(client.fake.requests().len(), 2);
}

#[tokio::test]
async fn a_signature_over_another_uri_is_refused() {
    let client = spawn().await;
    let body = debit("order-1", "9.99").to_string();
    let date = fake_ixopay::http_date(chrono::Utc::now());
    // Signed without the /api/v3 prefix, as a client that forgot the base path would.
    let signature = sign(helpers::SECRET, "POST", body.as_bytes(), CONTENT_TYPE, &date, "/transaction/my-api-key/debit");
    let response = reqwest::Client::new()
        .post(format!("{}/transaction/{API_KEY}/debit", client.fake.base_url()))
        .basic_auth(helpers::USERNAME, Some(PASSWORD))
        .header("Content-Type", CONTENT_TYPE)
        .header("Date", &date)
        .header("X-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], 1004);
}

#[tokio::test]
async fn a_wrong_api_key_and_unknown_fields_are_system_errors() {
    let client = spawn().await;
    let reply = client.transact("debit", &debit("order-1", "9.99"), &Call { api_key: "other-key".into(), ..call() }).await;
    assert_eq!(reply.status, 401);
    let mut body = debit("order-1", "9.99");
    body["colour"] = json!("blue");
    let reply = client.post("debit", &body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorCode"], 1002);
    assert!(reply.body["errorMessage"].as_str().unwrap().contains("colour"));
    body = debit("order-1", "9.99");
    body["amount"] = json!(9.99);
    let reply = client.post("debit", &body).await;
    assert_eq!(reply.body["details"], "amount");
    assert!(client.fake.transactions().is_empty());
}

#[tokio::test]
async fn a_duplicate_merchant_transaction_id_is_3004_and_stores_nothing() {
    let client = spawn().await;
    let first = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(first.body["success"], true);
    let second = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["success"], false);
    assert_eq!(second.body["returnType"], "ERROR");
    assert_eq!(second.body["errors"][0]["errorCode"], 3004);
    assert_eq!(second.body["errors"][0]["errorMessage"], "Duplicate transaction ID");
    assert_eq!(client.fake.transactions().len(), 1);
    let refund = client.post("refund", &helpers::refund("order-1", first.body["uuid"].as_str().unwrap(), "1.00")).await;
    assert_eq!(refund.body["errors"][0]["errorCode"], 3004);
    assert_eq!(client.fake.transactions().len(), 1);
}

#[tokio::test]
async fn the_status_api_finds_by_either_id_and_says_8001_otherwise() {
    let client = spawn().await;
    let uuid = client.post("debit", &debit("order-1", "9.99")).await.body["uuid"].as_str().unwrap().to_string();
    let status = client.status_of("order-1").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["success"], true);
    assert_eq!(status.body["transactionStatus"], "REDIRECT");
    assert_eq!(status.body["uuid"], uuid);
    assert_eq!(status.body["transactionType"], "DEBIT");
    assert_eq!(status.body["amount"], "9.99");
    let path = format!("/status/{API_KEY}/getByUuid/{uuid}");
    let by_uuid = client.send(reqwest::Method::GET, &path, None, &call()).await.unwrap();
    assert_eq!(by_uuid.body["merchantTransactionId"], "order-1");
    let missing = client.status_of("order-404").await;
    assert_eq!(missing.status, 200);
    assert_eq!(missing.body, json!({"success": false, "errorMessage": "Transaction not found", "errorCode": 8001}));
    assert_eq!(client.fake.requests()[1].body, serde_json::Value::Null);
}
