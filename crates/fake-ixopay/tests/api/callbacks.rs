//! Callbacks and chargebacks, signed as the gateway signs them.

use fake_ixopay::{http_date, sign};
use serde_json::Value;

use crate::helpers::{CONTENT_TYPE, SECRET, debit, spawn};

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap()
}

#[tokio::test]
async fn a_callbacks_headers_verify_with_sign_over_the_callback_path() {
    let client = spawn().await;
    let uuid = client.post("debit", &debit("order-1", "9.99")).await.body["uuid"].as_str().unwrap().to_string();
    let date = "Tue, 21 Jul 2020 13:15:03 UTC";
    let (body, headers) = client.fake.callback(&uuid, "OK", date).unwrap();
    assert_eq!(header(&headers, "Content-Type"), CONTENT_TYPE);
    assert_eq!(header(&headers, "Date"), date);
    assert_eq!(header(&headers, "X-Date"), date);
    let expected = sign(SECRET, "POST", &body, CONTENT_TYPE, date, "/hooks/allsecure?source=fake");
    assert_eq!(header(&headers, "X-Signature"), expected);
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"], "OK");
    assert_eq!(json["uuid"], uuid.as_str());
    assert_eq!(json["merchantTransactionId"], "order-1");
    assert_eq!(json["transactionType"], "DEBIT");
    assert_eq!(json["amount"], "9.99");
    assert_eq!(json["currency"], "EUR");
    assert_eq!(client.status_of("order-1").await.body["transactionStatus"], "SUCCESS");
}

#[tokio::test]
async fn an_error_callback_carries_code_and_message() {
    let client = spawn().await;
    let uuid = client.post("debit", &debit("order-1", "9.99")).await.body["uuid"].as_str().unwrap().to_string();
    let (body, _) = client.fake.callback(&uuid, "ERROR", &http_date(chrono::Utc::now())).unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"], "ERROR");
    assert_eq!(json["code"], "2003");
    assert_eq!(json["message"], "Transaction declined");
    assert_eq!(client.fake.transaction(&uuid).unwrap()["status"], "ERROR");
    assert!(client.fake.callback(&uuid, "MAYBE", "x").is_none());
    assert!(client.fake.callback("unknown", "OK", "x").is_none());
}

#[tokio::test]
async fn a_chargeback_is_a_new_signed_transaction_that_uses_up_the_refundable_rest() {
    let client = spawn().await;
    let debit_uuid = client.paid_debit("order-1", "9.99").await;
    let date = http_date(chrono::Utc::now());
    let (body, headers) = client.fake.chargeback(&debit_uuid, &date).unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["transactionType"], "CHARGEBACK");
    assert_ne!(json["uuid"], debit_uuid.as_str());
    assert_eq!(json["amount"], "9.99");
    assert_eq!(json["chargebackData"]["originalUuid"], debit_uuid.as_str());
    assert_eq!(json["chargebackData"]["originalMerchantTransactionId"], "order-1");
    assert_eq!(header(&headers, "X-Signature"), sign(SECRET, "POST", &body, CONTENT_TYPE, &date, "/hooks/allsecure?source=fake"));
    let refund = client.post("refund", &crate::helpers::refund("refund-1", &debit_uuid, "0.01")).await;
    assert_eq!(refund.body["success"], false);
    assert_eq!(client.status_of("order-1").await.body["transactionType"], "DEBIT");
    assert!(client.fake.chargeback("unknown", &date).is_none());
}
