//! What each operation does once the request is admitted: field checks, the duplicate
//! rule, injected declines, reference rules, then the stored transaction and its answer.

mod references;
mod status;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub(crate) use status::status;

use crate::amount;
use crate::dispatch::Answer;
use crate::errors::{self, TxError};
use crate::routes::Op;
use crate::state::{FakeState, FaultKind, Transaction, TxStatus, TxType, new_uuid, purchase_id};
use crate::validate;

/// Where the hosted payment page of a REDIRECT lives (the sandbox's host, as in production).
const REDIRECT_BASE: &str = "https://asxgw.paymentsandbox.cloud/redirect/";
/// The fake's transactions are card payments on the hosted page.
pub(crate) const PAYMENT_METHOD: &str = "Creditcard";

/// A debit, refund, payout or register. A refused request (400) stores nothing; a duplicate id is
/// an ERROR answer that stores nothing; every other answer stores the transaction.
pub(crate) fn transact(state: &mut FakeState, op: Op, api_key: &str, body: &Map<String, Value>, now: DateTime<Utc>) -> Answer {
    if let Err(error) = validate::check(op, body) {
        return Answer::system(&error);
    }
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let merchant_transaction_id = text("merchantTransactionId").unwrap_or_default();
    if state.find_by_merchant_id(api_key, &merchant_transaction_id).is_some() {
        let duplicate =
            TxError::gateway(errors::DUPLICATE_TRANSACTION_ID, errors::default_message(errors::DUPLICATE_TRANSACTION_ID));
        let uuid = new_uuid();
        return failed(&uuid, &purchase_id(&uuid, now), &duplicate);
    }
    let amount = text("amount").unwrap_or_default();
    let uuid = new_uuid();
    let mut transaction = Transaction {
        api_key: api_key.to_string(),
        purchase_id: purchase_id(&uuid, now),
        uuid,
        merchant_transaction_id,
        kind: match op {
            Op::Refund => TxType::Refund,
            Op::Payout => TxType::Payout,
            Op::Register => TxType::Register,
            Op::Debit | Op::Status => TxType::Debit,
        },
        cents: amount::cents(&amount).unwrap_or_default(),
        amount,
        currency: text("currency").unwrap_or_default(),
        status: TxStatus::Pending,
        reference_uuid: text("referenceUuid"),
        with_register: body.get("withRegister").and_then(Value::as_bool).unwrap_or(false),
        callback_url: text("callbackUrl"),
        merchant_meta_data: text("merchantMetaData"),
        error: None,
        chargeback: None,
    };
    let outcome = match state.take_fault(op, |kind| matches!(kind, FaultKind::Decline(_))) {
        Some(FaultKind::Decline(code)) => Err(TxError::declined(code)),
        _ => state.check_references(&transaction).map(|()| state.return_type(op)),
    };
    let answer = match outcome {
        Ok(return_type) => {
            transaction.status = return_type.status();
            let mut body = json!({
                "success": true,
                "uuid": transaction.uuid,
                "purchaseId": transaction.purchase_id,
                "returnType": return_type.as_str(),
                "paymentMethod": PAYMENT_METHOD,
            });
            if transaction.status == TxStatus::Redirect {
                body["redirectUrl"] = json!(format!("{REDIRECT_BASE}{}", transaction.uuid));
            }
            Answer::ok(body)
        }
        Err(error) => {
            transaction.status = TxStatus::Error;
            let answer = failed(&transaction.uuid, &transaction.purchase_id, &error);
            transaction.error = Some(error);
            answer
        }
    };
    state.transactions.push(transaction);
    answer
}

/// HTTP 200, `success: false`, `returnType: ERROR`: a transaction was made and failed.
fn failed(uuid: &str, purchase_id: &str, error: &TxError) -> Answer {
    Answer::ok(json!({
        "success": false,
        "uuid": uuid,
        "purchaseId": purchase_id,
        "returnType": "ERROR",
        "paymentMethod": PAYMENT_METHOD,
        "errors": [error.entry()],
    }))
}
