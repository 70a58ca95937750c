//! Escrow: a paid order's money held on the platform until the goods arrive.

use chrono::{DateTime, Duration, Utc};

use crate::Money;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError};
use crate::payment::{Payment, text_enum};

/// A cancellation reason is free text, bounded like every other.
pub const CANCELLATION_REASON_LEN_MAX: usize = 500;

text_enum!(EscrowStatus { Holding => "holding", Released => "released", Cancelled => "cancelled" });

impl EscrowStatus {
    /// holding → released; holding → cancelled. Nothing leaves a final state.
    pub fn can_become(self, to: EscrowStatus) -> bool {
        matches!((self, to), (EscrowStatus::Holding, EscrowStatus::Released) | (EscrowStatus::Holding, EscrowStatus::Cancelled))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowHold {
    pub id: uuid::Uuid,
    pub payment_id: uuid::Uuid,
    /// The connected account the money is released to.
    pub merchant_id: uuid::Uuid,
    pub amount: Money,
    pub status: EscrowStatus,
    pub hold_until: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EscrowHold {
    /// The hold a succeeded escrowed payment gets: its full amount until
    /// `paid_at + escrow_hold_days`. `None` for a payment without escrow.
    pub fn for_payment(payment: &Payment, paid_at: DateTime<Utc>) -> Option<Self> {
        let escrow = payment.escrow.as_ref()?;
        Some(Self {
            id: uuid::Uuid::now_v7(),
            payment_id: payment.id,
            merchant_id: escrow.merchant_id,
            amount: payment.amount,
            status: EscrowStatus::Holding,
            hold_until: paid_at + Duration::days(i64::from(escrow.hold_days)),
            released_at: None,
            cancelled_at: None,
            cancellation_reason: None,
            created_at: paid_at,
            updated_at: paid_at,
        })
    }

    /// Release takes the money out of escrow into platform cash, from where the fee
    /// and the vendor's transfer are paid in the same transaction.
    pub fn release_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::EscrowRelease,
            self.id.to_string(),
            LedgerAccount::platform(AccountKind::PlatformEscrow, self.amount.currency()),
            LedgerAccount::platform(AccountKind::PlatformCash, self.amount.currency()),
            self.amount,
        )
    }

    pub fn released(&self, now: DateTime<Utc>) -> Self {
        Self { status: EscrowStatus::Released, released_at: Some(now), updated_at: now, ..self.clone() }
    }

    pub fn cancelled(&self, reason: String, now: DateTime<Utc>) -> Self {
        Self {
            status: EscrowStatus::Cancelled,
            cancelled_at: Some(now),
            cancellation_reason: Some(reason),
            updated_at: now,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{CheckoutInput, CheckoutRequest, PaymentType};

    fn escrowed_payment() -> Payment {
        let request = CheckoutRequest::parse(CheckoutInput {
            user_id: "buyer".into(),
            amount: "100.00".into(),
            currency: "USD".into(),
            payment_type: Some(PaymentType::ProductB2c),
            success_url: "https://s.example/ok".into(),
            cancel_url: "https://s.example/no".into(),
            escrow_enabled: true,
            escrow_hold_days: 3,
            merchant_id: uuid::Uuid::nil().to_string(),
            gateway_name: "mock".into(),
            ..CheckoutInput::default()
        })
        .unwrap();
        Payment::pending(uuid::Uuid::now_v7(), &request, Utc::now())
    }

    #[test]
    fn a_hold_lasts_the_payments_hold_days_from_payment() {
        let paid_at = Utc::now();
        let hold = EscrowHold::for_payment(&escrowed_payment(), paid_at).unwrap();
        assert_eq!((hold.status, hold.hold_until), (EscrowStatus::Holding, paid_at + Duration::days(3)));
        assert_eq!(hold.amount.minor(), 10_000);
    }

    #[test]
    fn a_hold_ends_once() {
        use EscrowStatus::*;
        assert!(Holding.can_become(Released) && Holding.can_become(Cancelled));
        assert!(!Released.can_become(Cancelled) && !Cancelled.can_become(Released) && !Released.can_become(Released));
    }
}
