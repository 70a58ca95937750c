//! Everything the fake remembers, behind one mutex: transactions (per API key), the
//! request log, pending faults and how each operation answers when it succeeds.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::errors::TxError;
use crate::routes::Op;
use crate::{FakeIxopayConfig, RecordedRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxType {
    Debit,
    Refund,
    Payout,
    /// A card registered without a charge: no amount or currency.
    Register,
    Chargeback,
    /// The merchant won the chargeback: its amount comes back.
    ChargebackReversal,
}

impl TxType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TxType::Debit => "DEBIT",
            TxType::Refund => "REFUND",
            TxType::Payout => "PAYOUT",
            TxType::Register => "REGISTER",
            TxType::Chargeback => "CHARGEBACK",
            TxType::ChargebackReversal => "CHARGEBACK-REVERSAL",
        }
    }

    /// Whether the transaction moves money, so has an amount and a currency.
    pub(crate) fn has_amount(self) -> bool {
        self != TxType::Register
    }
}

/// The status API's `transactionStatus` (CANCELLED is never produced by the fake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxStatus {
    Success,
    Pending,
    Redirect,
    Error,
}

impl TxStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TxStatus::Success => "SUCCESS",
            TxStatus::Pending => "PENDING",
            TxStatus::Redirect => "REDIRECT",
            TxStatus::Error => "ERROR",
        }
    }

    /// Whether the money is (or may still be) moving: holds back a debit's refundable rest.
    pub(crate) fn holds(self) -> bool {
        self != TxStatus::Error
    }
}

/// How a successful transaction answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReturnType {
    Redirect,
    Finished,
    Pending,
}

impl ReturnType {
    pub(crate) fn parse(name: &str) -> Option<ReturnType> {
        match name {
            "REDIRECT" => Some(ReturnType::Redirect),
            "FINISHED" => Some(ReturnType::Finished),
            "PENDING" => Some(ReturnType::Pending),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReturnType::Redirect => "REDIRECT",
            ReturnType::Finished => "FINISHED",
            ReturnType::Pending => "PENDING",
        }
    }

    pub(crate) fn status(self) -> TxStatus {
        match self {
            ReturnType::Redirect => TxStatus::Redirect,
            ReturnType::Finished => TxStatus::Success,
            ReturnType::Pending => TxStatus::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) api_key: String,
    pub(crate) uuid: String,
    pub(crate) merchant_transaction_id: String,
    pub(crate) purchase_id: String,
    pub(crate) kind: TxType,
    /// As the client sent it; empty for a REGISTER.
    pub(crate) amount: String,
    pub(crate) cents: i64,
    pub(crate) currency: String,
    pub(crate) status: TxStatus,
    pub(crate) reference_uuid: Option<String>,
    pub(crate) with_register: bool,
    pub(crate) callback_url: Option<String>,
    pub(crate) merchant_meta_data: Option<String>,
    pub(crate) error: Option<TxError>,
    /// `chargebackData` of a CHARGEBACK, `chargebackReversalData` of its reversal.
    pub(crate) chargeback: Option<Value>,
}

impl Transaction {
    /// The shape `transactions()` documents (amount and currency are null for a REGISTER).
    pub(crate) fn to_json(&self) -> Value {
        let money = self.kind.has_amount();
        json!({
            "uuid": self.uuid,
            "merchantTransactionId": self.merchant_transaction_id,
            "transactionType": self.kind.as_str(),
            "amount": money.then_some(&self.amount),
            "currency": money.then_some(&self.currency),
            "status": self.status.as_str(),
            "referenceUuid": self.reference_uuid,
            "withRegister": self.with_register,
            "callbackUrl": self.callback_url,
            "purchaseId": self.purchase_id,
            "errorCode": self.error.as_ref().map(|e| e.code),
            "errorMessage": self.error.as_ref().map(|e| e.message.clone()),
        })
    }
}

/// What a matched request suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// Answer this status, store nothing.
    Fail(u16),
    /// Process and store, then answer this status.
    FailAfter(u16),
    /// Store as ERROR with this code, answer a decline.
    Decline(u32),
    /// Never answer, store nothing.
    Hang,
}

#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) op: Op,
    pub(crate) kind: FaultKind,
    pub(crate) remaining: usize,
}

#[derive(Debug)]
pub(crate) struct FakeState {
    pub(crate) config: FakeIxopayConfig,
    /// Oldest first.
    pub(crate) transactions: Vec<Transaction>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) debit_returns: ReturnType,
    pub(crate) refund_returns: ReturnType,
    pub(crate) payout_returns: ReturnType,
    pub(crate) register_returns: ReturnType,
}

impl FakeState {
    pub(crate) fn new(config: FakeIxopayConfig) -> Self {
        FakeState {
            config,
            transactions: Vec::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            debit_returns: ReturnType::Redirect,
            refund_returns: ReturnType::Finished,
            payout_returns: ReturnType::Pending,
            register_returns: ReturnType::Redirect,
        }
    }

    pub(crate) fn return_type(&self, op: Op) -> ReturnType {
        match op {
            Op::Debit => self.debit_returns,
            Op::Refund => self.refund_returns,
            Op::Register => self.register_returns,
            Op::Payout | Op::Status => self.payout_returns,
        }
    }

    pub(crate) fn find(&self, uuid: &str) -> Option<&Transaction> {
        self.transactions.iter().find(|t| t.uuid == uuid)
    }

    pub(crate) fn find_mut(&mut self, uuid: &str) -> Option<&mut Transaction> {
        self.transactions.iter_mut().find(|t| t.uuid == uuid)
    }

    /// The oldest transaction of `api_key` with this merchantTransactionId.
    pub(crate) fn find_by_merchant_id(&self, api_key: &str, id: &str) -> Option<&Transaction> {
        self.transactions.iter().find(|t| t.api_key == api_key && t.merchant_transaction_id == id)
    }

    /// Consumes one use of the first fault for `op` that `wanted` accepts.
    pub(crate) fn take_fault(&mut self, op: Op, wanted: impl Fn(FaultKind) -> bool) -> Option<FaultKind> {
        let position = self.faults.iter().position(|f| f.op == op && f.remaining > 0 && wanted(f.kind))?;
        let fault = self.faults.get_mut(position)?;
        fault.remaining -= 1;
        let kind = fault.kind;
        if fault.remaining == 0 {
            self.faults.remove(position);
        }
        Some(kind)
    }

    /// What is left to refund of a debit: refunds and chargebacks that hold money
    /// count, and a chargeback's reversal gives its amount back.
    pub(crate) fn refundable(&self, debit: &Transaction) -> i64 {
        let held: i64 = self
            .transactions
            .iter()
            .filter(|t| t.reference_uuid.as_deref() == Some(debit.uuid.as_str()) && t.status.holds())
            .map(|t| match t.kind {
                TxType::Refund | TxType::Chargeback => t.cents,
                TxType::ChargebackReversal => -t.cents,
                _ => 0,
            })
            .sum();
        debit.cents - held
    }
}

/// 20 lowercase hex characters, the shape of IXOPAY's uuids.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string().chars().take(20).collect()
}

/// `yyyymmdd-uuid`, as IXOPAY builds purchase ids.
pub(crate) fn purchase_id(uuid: &str, now: DateTime<Utc>) -> String {
    format!("{}-{uuid}", now.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FakeIxopayConfig {
        FakeIxopayConfig {
            api_key: "k".into(),
            username: "u".into(),
            password: "p".into(),
            shared_secret: "s".into(),
            signature_required: false,
        }
    }

    #[test]
    fn faults_are_used_up_in_order_and_by_kind() {
        let mut state = FakeState::new(config());
        state.faults.push(Fault { op: Op::Debit, kind: FaultKind::Fail(500), remaining: 2 });
        state.faults.push(Fault { op: Op::Debit, kind: FaultKind::Decline(2003), remaining: 1 });
        let early = |k: FaultKind| !matches!(k, FaultKind::Decline(_));
        assert_eq!(state.take_fault(Op::Refund, early), None);
        assert_eq!(state.take_fault(Op::Debit, |k| matches!(k, FaultKind::Decline(_))), Some(FaultKind::Decline(2003)));
        assert_eq!(state.take_fault(Op::Debit, early), Some(FaultKind::Fail(500)));
        assert_eq!(state.take_fault(Op::Debit, early), Some(FaultKind::Fail(500)));
        assert_eq!(state.take_fault(Op::Debit, early), None);
    }

    #[test]
    fn ids_have_ixopays_shape() {
        let uuid = new_uuid();
        assert_eq!(uuid.len(), 20);
        assert!(uuid.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let at = DateTime::from_timestamp(1_595_337_303, 0).unwrap_or_default();
        assert_eq!(purchase_id("abc", at), "20200721-abc");
    }
}
