//! The status API: a transaction of this API key by merchantTransactionId (the oldest
//! one, so a chargeback never hides its debit) or by uuid. Unknown ones are HTTP 200
//! with 8001, as in IXOPAY's documentation.

use serde_json::{Value, json};

use super::PAYMENT_METHOD;
use crate::dispatch::Answer;
use crate::errors::{self, TRANSACTION_NOT_FOUND};
use crate::routes::Lookup;
use crate::state::{FakeState, Transaction, TxType};

pub(crate) fn status(state: &FakeState, api_key: &str, lookup: &Lookup) -> Answer {
    let found = match lookup {
        Lookup::MerchantTransactionId(id) => state.find_by_merchant_id(api_key, id),
        Lookup::Uuid(uuid) => state.find(uuid).filter(|t| t.api_key == api_key),
    };
    Answer::ok(found.map_or_else(not_found, describe))
}

fn not_found() -> Value {
    json!({
        "success": false,
        "errorMessage": errors::default_message(TRANSACTION_NOT_FOUND),
        "errorCode": TRANSACTION_NOT_FOUND,
    })
}

/// The documented status answer (a REGISTER has no amount or currency). Error entries carry both spellings: `message`/`code`
/// (the status schema) and `errorMessage`/`errorCode` (transaction answers).
pub(crate) fn describe(transaction: &Transaction) -> Value {
    let mut body = json!({
        "success": true,
        "transactionStatus": transaction.status.as_str(),
        "uuid": transaction.uuid,
        "merchantTransactionId": transaction.merchant_transaction_id,
        "purchaseId": transaction.purchase_id,
        "transactionType": transaction.kind.as_str(),
        "paymentMethod": PAYMENT_METHOD,
    });
    if transaction.kind.has_amount() {
        body["amount"] = json!(transaction.amount);
        body["currency"] = json!(transaction.currency);
    }
    if let Some(reference) = &transaction.reference_uuid {
        body["referenceUuid"] = json!(reference);
    }
    if let Some(meta) = &transaction.merchant_meta_data {
        body["merchantMetaData"] = json!(meta);
    }
    if let Some(error) = &transaction.error {
        let mut entry = error.entry();
        entry["message"] = json!(error.message);
        entry["code"] = json!(error.code.to_string());
        body["errors"] = json!([entry]);
    }
    if let Some(chargeback) = &transaction.chargeback {
        let key = if transaction.kind == TxType::ChargebackReversal { "chargebackReversalData" } else { "chargebackData" };
        body[key] = chargeback.clone();
    }
    body
}
