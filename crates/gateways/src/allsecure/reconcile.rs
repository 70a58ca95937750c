//! AllSecure's side of a reconciliation: the status API by `merchantTransactionId`
//! (our record's id) for every debit, refund and payout of ours. AllSecure lists no
//! transactions by time, so what it made without a record of ours cannot be found
//! here; transfers and reversals are book entries whose ids we derive.

use app::ports::GatewayError;
use app::reconciliation_ports::OurRecord;
use domain::Money;
use domain::reconciliation::{ObjectKind, Record, Standing};

use super::client::{AllSecureClient, Booked, Outcome};
use super::connect::{REVERSAL_PREFIX, TRANSFER_PREFIX};

pub(super) async fn report(client: &AllSecureClient, ours: &[OurRecord]) -> Result<Vec<Record>, GatewayError> {
    let mut theirs = Vec::new();
    for record in ours.iter().map(|our| &our.record) {
        let Some(our_id) = record.our_id.as_deref() else { continue };
        let found = match record.kind {
            ObjectKind::Transfer => book_entry(record, TRANSFER_PREFIX),
            ObjectKind::Reversal => book_entry(record, REVERSAL_PREFIX),
            ObjectKind::Payment | ObjectKind::Refund | ObjectKind::Payout => {
                client.booked(our_id).await?.map(|booked| booked_record(record, &booked)).transpose()?
            }
        };
        theirs.extend(found);
    }
    Ok(theirs)
}

fn book_entry(record: &Record, prefix: &str) -> Option<Record> {
    let id = uuid::Uuid::parse_str(record.our_id.as_deref()?).ok()?;
    (record.gateway_id.as_deref() == Some(format!("{prefix}{}", id.simple()).as_str())).then(|| record.clone())
}

fn booked_record(ours: &Record, booked: &Booked) -> Result<Record, GatewayError> {
    let (gateway_id, standing) = match &booked.outcome {
        Outcome::Finished { uuid } => (Some(uuid.clone()), Standing::Succeeded),
        Outcome::Pending { uuid } | Outcome::Redirect { uuid, .. } => (Some(uuid.clone()), Standing::Pending),
        Outcome::Failed { uuid, .. } => (uuid.clone(), Standing::Failed),
    };
    let unreadable = || {
        GatewayError::Unavailable(format!(
            "AllSecure's status of {} has no readable amount",
            ours.our_id.as_deref().unwrap_or("-")
        ))
    };
    let (Some(amount), Some(currency)) = (&booked.amount, &booked.currency) else { return Err(unreadable()) };
    let currency = domain::Currency::parse("currency", currency).map_err(|_| unreadable())?;
    let amount = Money::parse("amount", amount, currency).map_err(|_| unreadable())?;
    Ok(Record { kind: ours.kind, our_id: ours.our_id.clone(), gateway_id, amount, standing })
}
