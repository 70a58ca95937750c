//! Callbacks (postbacks) as the gateway POSTs them to a transaction's callbackUrl: a
//! JSON body and headers signed like requests, over the callback URL's path and query.
//! The fake does not send them; tests hand them to the code under test.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::SignedCallback;
use crate::errors::{DECLINED, TxError};
use crate::handlers::PAYMENT_METHOD;
use crate::signature::{CONTENT_TYPE, sign};
use crate::state::{FakeState, Transaction, TxStatus, TxType, new_uuid, purchase_id};

impl FakeState {
    /// Finishes a transaction with `result` (OK, ERROR or PENDING) and describes it.
    pub(crate) fn callback(&mut self, uuid: &str, result: &str, date: &str) -> Option<SignedCallback> {
        let status = match result {
            "OK" => TxStatus::Success,
            "ERROR" => TxStatus::Error,
            "PENDING" => TxStatus::Pending,
            _ => return None,
        };
        let transaction = self.find_mut(uuid)?;
        let url = transaction.callback_url.clone()?;
        transaction.status = status;
        match status {
            TxStatus::Error if transaction.error.is_none() => transaction.error = Some(TxError::declined(DECLINED)),
            TxStatus::Error => {}
            _ => transaction.error = None,
        }
        let body = describe(transaction, result);
        Some(signed(&self.config.shared_secret, &url, &body, date))
    }

    /// A chargeback of a successful debit: a new CHARGEBACK transaction for the whole
    /// amount (it holds back the debit's refundable rest), told to the debit's callbackUrl.
    pub(crate) fn chargeback(&mut self, debit_uuid: &str, date: &str, now: DateTime<Utc>) -> Option<SignedCallback> {
        let debit = self.find(debit_uuid).filter(|t| t.kind == TxType::Debit && t.status == TxStatus::Success)?;
        let url = debit.callback_url.clone()?;
        let uuid = new_uuid();
        let data = json!({
            "originalUuid": debit.uuid,
            "originalMerchantTransactionId": debit.merchant_transaction_id,
            "amount": debit.amount,
            "currency": debit.currency,
            "reason": "Chargeback (injected by fake-ixopay)",
            "chargebackDateTime": now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        });
        let chargeback = Transaction {
            api_key: debit.api_key.clone(),
            purchase_id: purchase_id(&uuid, now),
            uuid,
            merchant_transaction_id: debit.merchant_transaction_id.clone(),
            kind: TxType::Chargeback,
            amount: debit.amount.clone(),
            cents: debit.cents,
            currency: debit.currency.clone(),
            status: TxStatus::Success,
            reference_uuid: Some(debit.uuid.clone()),
            with_register: false,
            callback_url: Some(url.clone()),
            merchant_meta_data: None,
            error: None,
            chargeback: Some(data.clone()),
        };
        let mut body = describe(&chargeback, "OK");
        body["chargebackData"] = data;
        self.transactions.push(chargeback);
        Some(signed(&self.config.shared_secret, &url, &body, date))
    }

    /// The merchant won a chargeback: a CHARGEBACK-REVERSAL transaction gives its
    /// amount back to the debit, told to the chargeback's callbackUrl with
    /// `chargebackReversalData`. `None` unless `chargeback_uuid` is a chargeback.
    pub(crate) fn chargeback_reversal(
        &mut self,
        chargeback_uuid: &str,
        date: &str,
        now: DateTime<Utc>,
    ) -> Option<SignedCallback> {
        let chargeback = self.find(chargeback_uuid).filter(|t| t.kind == TxType::Chargeback)?;
        let url = chargeback.callback_url.clone()?;
        let uuid = new_uuid();
        let data = json!({
            "originalUuid": chargeback.reference_uuid,
            "originalMerchantTransactionId": chargeback.merchant_transaction_id,
            "chargebackUuid": chargeback.uuid,
            "amount": chargeback.amount,
            "currency": chargeback.currency,
            "reason": "Chargeback reversed (injected by fake-ixopay)",
            "reversalDateTime": now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        });
        let reversal = Transaction {
            uuid: uuid.clone(),
            purchase_id: purchase_id(&uuid, now),
            kind: TxType::ChargebackReversal,
            chargeback: Some(data.clone()),
            ..chargeback.clone()
        };
        let mut body = describe(&reversal, "OK");
        body["chargebackReversalData"] = data;
        self.transactions.push(reversal);
        Some(signed(&self.config.shared_secret, &url, &body, date))
    }
}

/// The callback JSON (a REGISTER's has no amount or currency). On ERROR both spellings appear: `code`/`message` and
/// `errorCode`/`errorMessage` (IXOPAY's callback schema), with the adapter's.
fn describe(transaction: &Transaction, result: &str) -> Value {
    let mut body = json!({
        "result": result,
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
    if let Some(meta) = &transaction.merchant_meta_data {
        body["merchantMetaData"] = json!(meta);
    }
    if let (Some(error), "ERROR") = (&transaction.error, result) {
        body["code"] = json!(error.code.to_string());
        body["message"] = json!(error.message);
        if let Some(entry) = error.entry().as_object() {
            for (key, value) in entry {
                body[key] = value.clone();
            }
        }
    }
    body
}

fn signed(secret: &str, url: &str, body: &Value, date: &str) -> SignedCallback {
    let bytes = body.to_string().into_bytes();
    let signature = sign(secret, "POST", &bytes, CONTENT_TYPE, date, &path_and_query(url));
    let headers = [("Content-Type", CONTENT_TYPE), ("Date", date), ("X-Date", date), ("X-Signature", signature.as_str())];
    (bytes, headers.into_iter().map(|(name, value)| (name.to_string(), value.to_string())).collect())
}

/// `https://shop.test/cb?x=1#f` → `/cb?x=1`: what the receiver sees as its request URI.
pub(crate) fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split('#').next().unwrap_or_default();
    match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => format!("/{}", &rest[at..]),
        Some(at) => rest[at..].to_string(),
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_is_path_and_query_without_host_or_fragment() {
        assert_eq!(path_and_query("https://shop.test/hooks/allsecure?x=1#top"), "/hooks/allsecure?x=1");
        assert_eq!(path_and_query("https://shop.test:8443/cb"), "/cb");
        assert_eq!(path_and_query("https://shop.test?x=1"), "/?x=1");
        assert_eq!(path_and_query("https://shop.test"), "/");
    }
}
