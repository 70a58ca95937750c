//! Stripe's side of a reconciliation: the platform's balance transactions of the
//! window (`GET /v1/balance_transactions`, paged with `starting_after`, each
//! source expanded to find our id and the PaymentIntent), then every transfer and
//! payout of ours that the list did not show, fetched by id (a payout with the
//! connected account's `Stripe-Account`).

use app::ports::GatewayError;
use app::reconciliation_ports::{OurRecord, Via, Window};
use domain::reconciliation::{ObjectKind, Record, Standing};
use domain::{Currency, Money};
use serde_json::Value;

use super::{StripeClient, StripeError};

/// Stripe's largest page.
const PAGE: u32 = 100;

pub(super) async fn report(client: &StripeClient, window: &Window, ours: &[OurRecord]) -> Result<Vec<Record>, GatewayError> {
    let mut theirs = balance_transactions(client, window).await?;
    for our in ours {
        let record = &our.record;
        let Some(id) = record.gateway_id.as_deref() else { continue };
        if theirs.iter().any(|t| t.kind == record.kind && t.gateway_id.as_deref() == Some(id)) {
            continue;
        }
        let found = match (record.kind, &our.via) {
            (ObjectKind::Transfer, _) => fetch(client, &format!("/v1/transfers/{id}"), None).await?,
            (ObjectKind::Payout, Via::Account(account)) => fetch(client, &format!("/v1/payouts/{id}"), Some(account)).await?,
            _ => None,
        };
        if let Some(object) = found {
            theirs.push(object_record(record.kind, &object, None)?);
        }
    }
    Ok(theirs)
}

/// The window's balance transactions that are about our kinds of objects.
async fn balance_transactions(client: &StripeClient, window: &Window) -> Result<Vec<Record>, GatewayError> {
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!(
            "/v1/balance_transactions?limit={PAGE}&created[gte]={}&created[lt]={}&expand[]=data.source",
            window.since.timestamp(),
            window.until.timestamp() + 1
        );
        if let Some(after) = &after {
            path.push_str(&format!("&starting_after={after}"));
        }
        let page = client.get(&path, None).await?;
        let data = page.get("data").and_then(Value::as_array).ok_or(StripeError::Unexpected("data"))?;
        for transaction in data {
            if let Some(record) = balance_record(transaction)? {
                records.push(record);
            }
        }
        after = data.last().and_then(|t| t.get("id")).and_then(Value::as_str).map(str::to_owned);
        if !page.get("has_more").and_then(Value::as_bool).unwrap_or(false) || after.is_none() {
            return Ok(records);
        }
    }
}

fn balance_record(transaction: &Value) -> Result<Option<Record>, GatewayError> {
    let kind = match transaction.get("type").and_then(Value::as_str) {
        Some("charge" | "payment") => ObjectKind::Payment,
        Some("refund" | "payment_refund") => ObjectKind::Refund,
        Some("transfer") => ObjectKind::Transfer,
        Some("transfer_refund") => ObjectKind::Reversal,
        _ => return Ok(None),
    };
    let source = transaction.get("source").filter(|s| s.is_object()).ok_or(StripeError::Unexpected("source"))?;
    // A balance transaction's amount is signed (money out is negative); objects' are not.
    let amount = transaction.get("amount").and_then(Value::as_i64).ok_or(StripeError::Unexpected("amount"))?.abs();
    let record = object_record(kind, source, Some(amount))?;
    // A refund that failed is listed with the `refund_failure` that gave its money
    // back: together they moved nothing, as in our ledger.
    Ok((record.standing != Standing::Failed).then_some(record))
}

/// A Stripe object as a record: a charge is known by its PaymentIntent, as our
/// payments are; our id is in the metadata we sent.
fn object_record(kind: ObjectKind, object: &Value, amount: Option<i64>) -> Result<Record, GatewayError> {
    let field = |name: &'static str| object.get(name).and_then(Value::as_str);
    let (gateway_id, our_key) = match kind {
        ObjectKind::Payment => (field("payment_intent"), "payment_id"),
        ObjectKind::Refund => (field("id"), "refund_id"),
        ObjectKind::Transfer => (field("id"), "transfer_id"),
        ObjectKind::Reversal => (field("id"), "reversal_id"),
        ObjectKind::Payout => (field("id"), "payout_id"),
    };
    let amount = match amount {
        Some(amount) => amount,
        None => object.get("amount").and_then(Value::as_i64).ok_or(StripeError::Unexpected("amount"))?,
    };
    let code = field("currency").ok_or(StripeError::Unexpected("currency"))?.to_ascii_uppercase();
    let currency = Currency::parse("currency", &code).map_err(|_| StripeError::Unexpected("currency"))?;
    Ok(Record {
        kind,
        our_id: object.get("metadata").and_then(|m| m.get(our_key)).and_then(Value::as_str).map(str::to_owned),
        gateway_id: gateway_id.map(str::to_owned),
        amount: Money::from_minor(amount, currency),
        standing: standing(field("status")),
    })
}

/// Stripe's statuses of refunds and payouts; a charge or transfer in the balance
/// has moved money, and a transfer has no status.
fn standing(status: Option<&str>) -> Standing {
    match status {
        Some("pending" | "in_transit" | "requires_action") => Standing::Pending,
        Some("failed" | "canceled") => Standing::Failed,
        _ => Standing::Succeeded,
    }
}

/// An object by id; `None` when Stripe has no such object.
async fn fetch(client: &StripeClient, path: &str, account: Option<&str>) -> Result<Option<Value>, GatewayError> {
    match client.get(path, account).await {
        Ok(object) => Ok(Some(object)),
        Err(StripeError::Invalid { status: 404, .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_charge_is_known_by_its_payment_intent_and_money_out_is_positive() {
        let charge = json!({"type": "charge", "amount": 1000, "source": {"id": "ch_1", "payment_intent": "pi_1",
            "currency": "usd", "status": "succeeded", "metadata": {"payment_id": "p-1"}}});
        let record = balance_record(&charge).unwrap().unwrap();
        assert_eq!(
            (record.kind, record.gateway_id.as_deref(), record.our_id.as_deref()),
            (ObjectKind::Payment, Some("pi_1"), Some("p-1"))
        );
        let refund = json!({"type": "refund", "amount": -300, "source": {"id": "re_1", "currency": "eur", "status": "pending"}});
        let record = balance_record(&refund).unwrap().unwrap();
        assert_eq!((record.amount.minor(), record.amount.currency().code(), record.standing), (300, "EUR", Standing::Pending));
        assert!(balance_record(&json!({"type": "stripe_fee", "amount": -5})).unwrap().is_none());
        let failed = json!({"type": "refund", "amount": -300, "source": {"id": "re_2", "currency": "usd", "status": "failed"}});
        assert!(balance_record(&failed).unwrap().is_none(), "undone by its refund_failure");
    }
}
