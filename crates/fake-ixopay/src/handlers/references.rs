//! Rules for transactions that point at an earlier one: a refund needs a successful
//! debit of the same API key and currency with enough left; a payout by referenceUuid
//! needs a successful REGISTER, or a successful debit made withRegister. Breaking one is
//! a processing error (1006).

use crate::amount;
use crate::errors::{LOGICAL_ERROR, TxError};
use crate::state::{FakeState, Transaction, TxStatus, TxType};

impl FakeState {
    /// `Ok` for a debit or register, and for a payout by transactionToken (the fake
    /// accepts any token).
    pub(crate) fn check_references(&self, transaction: &Transaction) -> Result<(), TxError> {
        let Some(reference) = transaction.reference_uuid.as_deref() else {
            return Ok(());
        };
        let earlier = self
            .find(reference)
            .filter(|earlier| earlier.api_key == transaction.api_key)
            .ok_or_else(|| logical(format!("Reference transaction {reference} not found")))?;
        let state = format!("{} {}", earlier.kind.as_str(), earlier.status.as_str());
        match transaction.kind {
            TxType::Refund if earlier.kind != TxType::Debit || earlier.status != TxStatus::Success => {
                Err(logical(format!("Reference transaction {reference} is not a successful debit ({state})")))
            }
            TxType::Refund => self.check_refund(earlier, transaction),
            TxType::Payout
                if !matches!(earlier.kind, TxType::Debit | TxType::Register) || earlier.status != TxStatus::Success =>
            {
                Err(logical(format!(
                    "Reference transaction {reference} is not a successful register or debit withRegister ({state})"
                )))
            }
            TxType::Payout if earlier.kind == TxType::Debit && !earlier.with_register => {
                Err(logical(format!("Reference transaction {reference} was not made withRegister: nothing to pay out to")))
            }
            _ => Ok(()),
        }
    }

    fn check_refund(&self, debit: &Transaction, refund: &Transaction) -> Result<(), TxError> {
        if refund.currency != debit.currency {
            return Err(logical(format!("Currency {} does not match the debit's ({})", refund.currency, debit.currency)));
        }
        let rest = self.refundable(debit);
        if refund.cents > rest {
            return Err(logical(format!(
                "Refund amount {} exceeds what is left to refund of the debit ({})",
                refund.amount,
                amount::format(rest.max(0))
            )));
        }
        Ok(())
    }
}

fn logical(message: String) -> TxError {
    TxError::gateway(LOGICAL_ERROR, message)
}
