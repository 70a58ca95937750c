//! Refunds and payouts that point at an earlier debit.

use serde_json::json;

use crate::helpers::{CALLBACK_URL, debit, refund, spawn};

#[tokio::test]
async fn refunds_run_up_to_what_is_left_and_no_further() {
    let client = spawn().await;
    let debit_uuid = client.paid_debit("order-1", "10.00").await;
    let first = client.post("refund", &refund("refund-1", &debit_uuid, "6.00")).await;
    assert_eq!(first.body["success"], true, "{:?}", first.body);
    assert_eq!(first.body["returnType"], "FINISHED");
    let over = client.post("refund", &refund("refund-2", &debit_uuid, "4.01")).await;
    assert_eq!(over.status, 200);
    assert_eq!(over.body["success"], false);
    assert_eq!(over.body["returnType"], "ERROR");
    assert_eq!(over.body["errors"][0]["errorCode"], 1006);
    assert!(over.body["errors"][0]["errorMessage"].as_str().unwrap().contains("4.00"), "{:?}", over.body);
    let rest = client.post("refund", &refund("refund-3", &debit_uuid, "4.00")).await;
    assert_eq!(rest.body["success"], true);
    let statuses: Vec<_> = client.fake.transactions().iter().map(|t| t["status"].as_str().unwrap().to_string()).collect();
    assert_eq!(statuses, ["SUCCESS", "SUCCESS", "ERROR", "SUCCESS"]);
}

#[tokio::test]
async fn a_refund_of_an_unpaid_or_unknown_debit_or_in_another_currency_is_declined() {
    let client = spawn().await;
    let unpaid = client.post("debit", &debit("order-1", "10.00")).await.body["uuid"].as_str().unwrap().to_string();
    let reply = client.post("refund", &refund("refund-1", &unpaid, "1.00")).await;
    assert_eq!((reply.status, reply.body["success"].clone()), (200, json!(false)));
    let reply = client.post("refund", &refund("refund-2", "0123456789abcdef0123", "1.00")).await;
    assert_eq!(reply.body["errors"][0]["errorCode"], 1006);
    let paid = client.paid_debit("order-2", "10.00").await;
    let mut in_dinars = refund("refund-3", &paid, "1.00");
    in_dinars["currency"] = json!("RSD");
    assert_eq!(client.post("refund", &in_dinars).await.body["success"], false);
}

#[tokio::test]
async fn a_payout_needs_a_registered_debit_and_is_pending_by_default() {
    let client = spawn().await;
    let plain = client.paid_debit("order-1", "10.00").await;
    let payout = |id: &str, reference: &str| json!({"merchantTransactionId": id, "referenceUuid": reference, "amount": "25.00", "currency": "EUR", "callbackUrl": CALLBACK_URL});
    let refused = client.post("payout", &payout("payout-1", &plain)).await;
    assert_eq!(refused.body["success"], false);
    assert_eq!(refused.body["errors"][0]["errorCode"], 1006);

    let mut registered = debit("order-2", "1.00");
    registered["withRegister"] = json!(true);
    let uuid = client.post("debit", &registered).await.body["uuid"].as_str().unwrap().to_string();
    client.fake.callback(&uuid, "OK", &fake_ixopay::http_date(chrono::Utc::now())).unwrap();
    let paid = client.post("payout", &payout("payout-2", &uuid)).await;
    assert_eq!(paid.body["success"], true, "{:?}", paid.body);
    assert_eq!(paid.body["returnType"], "PENDING");
    let stored = client.fake.transaction(paid.body["uuid"].as_str().unwrap()).unwrap();
    assert_eq!(stored["status"], "PENDING");
    assert_eq!(stored["referenceUuid"], uuid);
}
