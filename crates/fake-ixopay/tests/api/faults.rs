//! Injected failures: system errors, lost answers, declines and hangs.

use std::time::Duration;

use crate::helpers::{Call, call, debit, spawn};

#[tokio::test]
async fn the_status_api_finds_a_debit_whose_answer_was_lost() {
    let client = spawn().await;
    client.fake.fail_after_processing("debit", 504, 1);
    let reply = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.body["errorCode"], 1008);
    let status = client.status_of("order-1").await;
    assert_eq!(status.body["success"], true);
    assert_eq!(status.body["transactionStatus"], "REDIRECT");
    assert_eq!(client.fake.transactions().len(), 1);
    // The retry with the same id is a duplicate, as with the real gateway.
    let retry = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(retry.body["errors"][0]["errorCode"], 3004);
}

#[tokio::test]
async fn an_injected_failure_stores_nothing_so_the_retry_runs_for_real() {
    let client = spawn().await;
    client.fake.fail_next("debit", 503, 1);
    let failed = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.body["errorCode"], 1010);
    assert!(client.fake.transactions().is_empty());
    assert_eq!(client.status_of("order-1").await.body["errorCode"], 8001);
    let retry = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(retry.body["success"], true);
}

#[tokio::test]
async fn a_decline_is_a_failed_transaction_with_the_code() {
    let client = spawn().await;
    client.fake.decline_next("debit", 2003, 1);
    let reply = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.body["returnType"], "ERROR");
    assert_eq!(reply.body["errors"][0]["errorCode"], 2003);
    assert_eq!(reply.body["errors"][0]["errorMessage"], "Transaction declined");
    let status = client.status_of("order-1").await;
    assert_eq!(status.body["transactionStatus"], "ERROR");
    assert_eq!(status.body["errors"][0]["errorCode"], 2003);
    assert_eq!(status.body["errors"][0]["code"], "2003");
    assert_eq!(client.post("debit", &debit("order-2", "9.99")).await.body["success"], true);
}

#[tokio::test]
async fn a_hung_request_is_recorded_unanswered_and_stores_nothing() {
    let client = spawn().await;
    client.fake.hang_next("debit", 1);
    let options = Call { timeout: Some(Duration::from_millis(300)), ..call() };
    let path = format!("/transaction/{}/debit", options.api_key);
    let error = client.send(reqwest::Method::POST, &path, Some(&debit("order-1", "9.99")), &options).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(client.fake.transactions().is_empty());
    assert_eq!(client.fake.requests()[0].status, 0);
    assert_eq!(client.post("debit", &debit("order-1", "9.99")).await.body["success"], true);
}

#[tokio::test]
async fn return_types_can_be_changed_per_operation() {
    let client = spawn().await;
    client.fake.set_return_type("debit", "FINISHED");
    let reply = client.post("debit", &debit("order-1", "9.99")).await;
    assert_eq!(reply.body["returnType"], "FINISHED");
    assert!(reply.body.get("redirectUrl").is_none());
    assert_eq!(client.fake.transaction(reply.body["uuid"].as_str().unwrap()).unwrap()["status"], "SUCCESS");
}
