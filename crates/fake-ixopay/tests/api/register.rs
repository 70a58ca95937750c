//! Card registers: a REDIRECT without money, finished by a callback, then paid out to.

use fake_ixopay::{http_date, sign};
use serde_json::{Value, json};

use crate::helpers::{API_KEY, CALLBACK_URL, CONTENT_TYPE, SECRET, call, debit, refund, register, spawn};

fn payout(id: &str, reference: &str) -> Value {
    json!({"merchantTransactionId": id, "referenceUuid": reference, "amount": "25.00", "currency": "EUR", "callbackUrl": CALLBACK_URL})
}

#[tokio::test]
async fn a_register_is_answered_redirect_and_stored_without_money() {
    let client = spawn().await;
    let reply = client.post("register", &register("card-1")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["returnType"], "REDIRECT");
    let uuid = reply.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(reply.body["redirectUrl"], format!("https://asxgw.paymentsandbox.cloud/redirect/{uuid}"));
    assert!(reply.body["purchaseId"].as_str().unwrap().ends_with(&uuid));
    let stored = client.fake.transaction(&uuid).unwrap();
    assert_eq!(stored["transactionType"], "REGISTER");
    assert_eq!(stored["status"], "REDIRECT");
    assert_eq!(stored["amount"], Value::Null);
    assert_eq!(client.fake.requests()[0].uri, format!("/api/v3/transaction/{API_KEY}/register"));

    let status = client.status_of("card-1").await;
    assert_eq!(status.body["success"], true);
    assert_eq!(status.body["transactionType"], "REGISTER");
    assert_eq!(status.body["transactionStatus"], "REDIRECT");
    assert_eq!(status.body["uuid"], uuid.as_str());
    assert!(status.body.get("amount").is_none() && status.body.get("currency").is_none(), "{:?}", status.body);
    let path = format!("/status/{API_KEY}/getByUuid/{uuid}");
    let by_uuid = client.send(reqwest::Method::GET, &path, None, &call()).await.unwrap();
    assert_eq!(by_uuid.body["transactionType"], "REGISTER");
}

#[tokio::test]
async fn a_duplicate_register_id_is_3004_even_against_a_debit() {
    let client = spawn().await;
    assert_eq!(client.post("register", &register("card-1")).await.body["success"], true);
    let again = client.post("register", &register("card-1")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["success"], false);
    assert_eq!(again.body["returnType"], "ERROR");
    assert_eq!(again.body["errors"][0]["errorCode"], 3004);
    assert_eq!(client.post("debit", &debit("card-1", "1.00")).await.body["errors"][0]["errorCode"], 3004);
    assert_eq!(client.fake.transactions().len(), 1);
}

#[tokio::test]
async fn money_fields_in_a_register_are_refused_by_name() {
    let client = spawn().await;
    for (field, value) in [("amount", json!("1.00")), ("currency", json!("EUR"))] {
        let mut body = register("card-1");
        body[field] = value;
        let reply = client.post("register", &body).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["errorCode"], 1002);
        assert_eq!(reply.body["details"], field);
        assert!(reply.body["errorMessage"].as_str().unwrap().contains(field), "{:?}", reply.body);
    }
    assert!(client.fake.transactions().is_empty());
}

#[tokio::test]
async fn an_ok_callback_finishes_a_register_that_a_payout_may_then_reference() {
    let client = spawn().await;
    let uuid = client.post("register", &register("card-1")).await.body["uuid"].as_str().unwrap().to_string();
    let date = http_date(chrono::Utc::now());
    let (body, headers) = client.fake.callback(&uuid, "OK", &date).unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"], "OK");
    assert_eq!(json["uuid"], uuid.as_str());
    assert_eq!(json["merchantTransactionId"], "card-1");
    assert_eq!(json["transactionType"], "REGISTER");
    assert!(json["purchaseId"].as_str().unwrap().ends_with(&uuid));
    assert!(json.get("amount").is_none() && json.get("currency").is_none(), "{json:?}");
    let signature = headers.iter().find(|(name, _)| name == "X-Signature").map(|(_, v)| v.as_str());
    assert_eq!(signature, Some(sign(SECRET, "POST", &body, CONTENT_TYPE, &date, "/hooks/allsecure?source=fake").as_str()));
    assert_eq!(client.status_of("card-1").await.body["transactionStatus"], "SUCCESS");

    let paid = client.post("payout", &payout("payout-1", &uuid)).await;
    assert_eq!(paid.body["success"], true, "{:?}", paid.body);
    assert_eq!(paid.body["returnType"], "PENDING");
    assert_eq!(client.fake.transaction(paid.body["uuid"].as_str().unwrap()).unwrap()["referenceUuid"], uuid.as_str());
    // A register holds no money: nothing to refund.
    let refunded = client.post("refund", &refund("refund-1", &uuid, "1.00")).await;
    assert_eq!(refunded.body["errors"][0]["errorCode"], 1006);
}

#[tokio::test]
async fn a_payout_to_an_unfinished_or_failed_register_is_refused() {
    let client = spawn().await;
    let pending = client.post("register", &register("card-1")).await.body["uuid"].as_str().unwrap().to_string();
    let refused = client.post("payout", &payout("payout-1", &pending)).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.body["success"], false);
    assert_eq!(refused.body["returnType"], "ERROR");
    assert_eq!(refused.body["errors"][0]["errorCode"], 1006);
    assert!(refused.body["errors"][0]["errorMessage"].as_str().unwrap().contains("REGISTER REDIRECT"), "{:?}", refused.body);

    let failed = client.post("register", &register("card-2")).await.body["uuid"].as_str().unwrap().to_string();
    let (body, _) = client.fake.callback(&failed, "ERROR", &http_date(chrono::Utc::now())).unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((json["result"].clone(), json["transactionType"].clone()), (json!("ERROR"), json!("REGISTER")));
    assert_eq!(client.post("payout", &payout("payout-2", &failed)).await.body["errors"][0]["errorCode"], 1006);
}

#[tokio::test]
async fn faults_and_return_types_apply_to_register() {
    let client = spawn().await;
    client.fake.fail_next("register", 503, 1);
    assert_eq!(client.post("register", &register("card-1")).await.status, 503);
    assert!(client.fake.transactions().is_empty());

    client.fake.fail_after_processing("register", 504, 1);
    assert_eq!(client.post("register", &register("card-1")).await.status, 504);
    assert_eq!(client.status_of("card-1").await.body["transactionType"], "REGISTER");

    client.fake.decline_next("register", 2003, 1);
    let declined = client.post("register", &register("card-2")).await;
    assert_eq!(declined.body["errors"][0]["errorCode"], 2003);
    assert_eq!(client.status_of("card-2").await.body["transactionStatus"], "ERROR");

    client.fake.set_return_type("register", "FINISHED");
    let finished = client.post("register", &register("card-3")).await;
    assert_eq!(finished.body["returnType"], "FINISHED");
    assert!(finished.body.get("redirectUrl").is_none());
    let uuid = finished.body["uuid"].as_str().unwrap();
    assert_eq!(client.post("payout", &payout("payout-1", uuid)).await.body["success"], true);

    client.fake.hang_next("register", 1);
    let options = crate::helpers::Call { timeout: Some(std::time::Duration::from_millis(300)), ..call() };
    let path = format!("/transaction/{API_KEY}/register");
    let error = client.send(reqwest::Method::POST, &path, Some(&register("card-4")), &options).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(client.status_of("card-4").await.body["errorCode"], 8001);
}
