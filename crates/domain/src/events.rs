//! Events to the platform: the list of event types, which type a state change is,
//! an endpoint's subscription, and when a failed delivery is tried again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::FieldError;
use crate::disputes::DisputeStatus;
use crate::escrow::EscrowStatus;
use crate::payment::{PaymentStatus, text_enum};
use crate::payouts::PayoutStatus;
use crate::refunds::RefundStatus;
use crate::transfers::{ReversalStatus, TransferStatus};
use crate::validation::{RedirectUrl, parse_free_text};
use crate::wallet::{WalletTransactionKind, WalletTransactionStatus};

// A new kind of event is one line here (and its `of_*` mapping below).
text_enum!(
    EventType {
        PaymentSucceeded => "payment.succeeded",
        PaymentFailed => "payment.failed",
        PaymentRefunded => "payment.refunded",
        EscrowHeld => "escrow.held",
        EscrowReleased => "escrow.released",
        EscrowCancelled => "escrow.cancelled",
        EscrowFrozen => "escrow.frozen",
        RefundCreated => "refund.created",
        RefundSucceeded => "refund.succeeded",
        RefundFailed => "refund.failed",
        TransferCreated => "transfer.created",
        TransferPaid => "transfer.paid",
        TransferFailed => "transfer.failed",
        ReversalCreated => "reversal.created",
        ReversalSucceeded => "reversal.succeeded",
        ReversalFailed => "reversal.failed",
        PayoutPaid => "payout.paid",
        PayoutFailed => "payout.failed",
        AccountUpdated => "account.updated",
        WalletCredited => "wallet.credited",
        WalletDebited => "wallet.debited",
        DisputeOpened => "dispute.opened",
        DisputeClosed => "dispute.closed",
    }
);

impl EventType {
    /// A payment's status that the platform hears of; pending and processing are not.
    pub fn of_payment(status: PaymentStatus) -> Option<Self> {
        match status {
            PaymentStatus::Succeeded => Some(Self::PaymentSucceeded),
            PaymentStatus::Failed => Some(Self::PaymentFailed),
            PaymentStatus::Refunded => Some(Self::PaymentRefunded),
            PaymentStatus::Pending | PaymentStatus::Processing | PaymentStatus::Cancelled => None,
        }
    }

    pub fn of_escrow(status: EscrowStatus) -> Self {
        match status {
            EscrowStatus::Holding => Self::EscrowHeld,
            EscrowStatus::Released => Self::EscrowReleased,
            EscrowStatus::Cancelled => Self::EscrowCancelled,
        }
    }

    pub fn of_refund(status: RefundStatus) -> Self {
        match status {
            RefundStatus::Pending => Self::RefundCreated,
            RefundStatus::Succeeded => Self::RefundSucceeded,
            RefundStatus::Failed => Self::RefundFailed,
        }
    }

    /// A reversal's change of a transfer is told by the reversal's own events.
    pub fn of_transfer(status: TransferStatus) -> Option<Self> {
        match status {
            TransferStatus::Pending => Some(Self::TransferCreated),
            TransferStatus::Paid => Some(Self::TransferPaid),
            TransferStatus::Failed => Some(Self::TransferFailed),
            TransferStatus::PartiallyReversed | TransferStatus::Reversed => None,
        }
    }

    pub fn of_reversal(status: ReversalStatus) -> Self {
        match status {
            ReversalStatus::Pending => Self::ReversalCreated,
            ReversalStatus::Succeeded => Self::ReversalSucceeded,
            ReversalStatus::Failed => Self::ReversalFailed,
        }
    }

    pub fn of_payout(status: PayoutStatus) -> Option<Self> {
        match status {
            PayoutStatus::Paid => Some(Self::PayoutPaid),
            PayoutStatus::Failed => Some(Self::PayoutFailed),
            PayoutStatus::Pending | PayoutStatus::InTransit | PayoutStatus::Canceled => None,
        }
    }

    /// A dispute's write, from the status it was read in (`None`: first recorded):
    /// opened when first recorded, closed when decided (a first report may already
    /// be both); moving between the open statuses is not told.
    pub fn of_dispute(before: Option<DisputeStatus>, after: DisputeStatus) -> Vec<Self> {
        let opened = before.is_none().then_some(Self::DisputeOpened);
        let closed = (!after.is_open()).then_some(Self::DisputeClosed);
        opened.into_iter().chain(closed).collect()
    }

    /// A wallet row moves the balance when it is written (a withdrawal, a payment)
    /// or when it completes (a deposit, a withdrawal's reversal).
    pub fn of_wallet(kind: WalletTransactionKind, status: WalletTransactionStatus) -> Option<Self> {
        match (kind, status) {
            (WalletTransactionKind::Withdrawal | WalletTransactionKind::Payment, WalletTransactionStatus::Pending) => {
                Some(Self::WalletDebited)
            }
            (WalletTransactionKind::Deposit | WalletTransactionKind::WithdrawalReversal, WalletTransactionStatus::Completed) => {
                Some(Self::WalletCredited)
            }
            _ => None,
        }
    }
}

/// Every type, for an endpoint that wants them all.
pub const ALL_TYPES: &str = "*";

pub const DESCRIPTION_LEN_MAX: usize = 500;

/// The event types an endpoint receives: `*`, or a list of known types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription(Vec<String>);

impl Subscription {
    pub fn parse(field: &'static str, types: &[String]) -> Result<Self, FieldError> {
        if types.is_empty() {
            return Err(FieldError::new(field, "must name at least one event type, or \"*\" for all"));
        }
        let mut kept: Vec<String> = Vec::with_capacity(types.len());
        for text in types {
            if text != ALL_TYPES && EventType::from_str_opt(text).is_none() {
                let known: Vec<&str> = EventType::ALL.iter().map(EventType::as_str).collect();
                return Err(FieldError::new(
                    field,
                    format!("{} is not an event type (known: {}, or \"*\")", crate::validation::quote(text), known.join(", ")),
                ));
            }
            if !kept.contains(text) {
                kept.push(text.clone());
            }
        }
        Ok(Self(kept))
    }

    /// A stored subscription, as `types()` gave it.
    pub fn from_stored(types: Vec<String>) -> Self {
        Self(types)
    }

    pub fn types(&self) -> &[String] {
        &self.0
    }

    pub fn wants(&self, event: EventType) -> bool {
        self.0.iter().any(|t| t == ALL_TYPES || t == event.as_str())
    }
}

/// What an endpoint is made of, checked: a URL the worker can POST to, and a
/// bounded free-text description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub subscription: Subscription,
}

impl EndpointInput {
    pub fn parse(url: &str, description: &str, types: &[String]) -> Result<Self, FieldError> {
        Ok(Self {
            url: RedirectUrl::parse("url", url)?.as_str().to_owned(),
            description: parse_free_text("description", description, DESCRIPTION_LEN_MAX)?,
            subscription: Subscription::parse("event_types", types)?,
        })
    }
}

text_enum!(DeliveryStatus { Pending => "pending", Delivered => "delivered", Dead => "dead" });

/// When a failed delivery is tried again: the delay doubles from `first_delay` up
/// to `longest_delay`, and a delivery still failing `give_up_after` its event was
/// written is dead-lettered (kept, and sent again only by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub longest_delay: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// Thirty seconds, doubling to at most an hour, for 24 hours: about 30 tries.
    pub const DEFAULT: Self = Self {
        first_delay: Duration::from_secs(30),
        longest_delay: Duration::from_secs(3600),
        give_up_after: Duration::from_secs(24 * 3600),
    };

    /// After the `attempts`-th failure (1 for the first), the next try's time, or
    /// `None` to dead-letter.
    pub fn next_attempt(&self, attempts: u32, event_created: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let doublings = attempts.saturating_sub(1).min(31);
        let delay = self.first_delay.saturating_mul(1 << doublings).min(self.longest_delay);
        let next = now + chrono::Duration::from_std(delay).ok()?;
        let deadline = event_created + chrono::Duration::from_std(self.give_up_after).ok()?;
        (next <= deadline).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn every_type_reads_back_and_follows_object_dot_verb() {
        for event in EventType::ALL {
            assert_eq!(EventType::from_str_opt(event.as_str()), Some(*event));
            let (object, verb) = event.as_str().split_once('.').unwrap_or_default();
            assert!(!object.is_empty() && !verb.is_empty(), "{event}");
        }
    }

    #[test]
    fn states_map_to_the_types_the_platform_hears_of() {
        assert_eq!(EventType::of_payment(PaymentStatus::Succeeded), Some(EventType::PaymentSucceeded));
        assert_eq!(EventType::of_payment(PaymentStatus::Pending), None);
        assert_eq!(EventType::of_escrow(EscrowStatus::Holding), EventType::EscrowHeld);
        assert_eq!(EventType::of_refund(RefundStatus::Pending), EventType::RefundCreated);
        assert_eq!(EventType::of_transfer(TransferStatus::Reversed), None);
        assert_eq!(EventType::of_reversal(ReversalStatus::Failed), EventType::ReversalFailed);
        assert_eq!(EventType::of_payout(PayoutStatus::InTransit), None);
        assert_eq!(EventType::of_payout(PayoutStatus::Failed), Some(EventType::PayoutFailed));
        use WalletTransactionKind as K;
        use WalletTransactionStatus as S;
        assert_eq!(EventType::of_wallet(K::Deposit, S::Pending), None);
        assert_eq!(EventType::of_wallet(K::Deposit, S::Completed), Some(EventType::WalletCredited));
        assert_eq!(EventType::of_wallet(K::Withdrawal, S::Pending), Some(EventType::WalletDebited));
        assert_eq!(EventType::of_wallet(K::Withdrawal, S::Completed), None);
        use DisputeStatus as D;
        assert_eq!(EventType::of_dispute(None, D::NeedsResponse), [EventType::DisputeOpened]);
        assert_eq!(EventType::of_dispute(Some(D::NeedsResponse), D::UnderReview), []);
        assert_eq!(EventType::of_dispute(Some(D::UnderReview), D::Won), [EventType::DisputeClosed]);
        assert_eq!(EventType::of_dispute(None, D::Lost), [EventType::DisputeOpened, EventType::DisputeClosed]);
    }

    #[test]
    fn a_subscription_names_known_types_or_all() {
        let types = |list: &[&str]| list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let some = Subscription::parse("event_types", &types(&["payment.succeeded", "payment.succeeded", "refund.failed"]))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(some.types(), ["payment.succeeded", "refund.failed"]);
        assert!(some.wants(EventType::RefundFailed));
        assert!(!some.wants(EventType::PaymentFailed));
        let all = Subscription::parse("event_types", &types(&["*"])).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(EventType::ALL.iter().all(|t| all.wants(*t)));
        let empty = Subscription::parse("event_types", &[]).err().map(|e| e.field);
        assert_eq!(empty, Some("event_types"));
        let unknown = Subscription::parse("event_types", &types(&["payment.exploded"])).err().map(|e| e.message);
        assert!(unknown.is_some_and(|m| m.contains("payment.exploded") && m.contains("payment.succeeded")));
    }

    #[test]
    fn an_endpoint_needs_an_http_url() {
        let types = vec!["*".to_owned()];
        assert!(EndpointInput::parse("https://platform.example/hooks", "main", &types).is_ok());
        let bad = EndpointInput::parse("ftp://platform.example", "", &types).err().map(|e| e.field);
        assert_eq!(bad, Some("url"));
        let long = EndpointInput::parse("https://p.example", &"x".repeat(DESCRIPTION_LEN_MAX + 1), &types).err();
        assert_eq!(long.map(|e| e.field), Some("description"));
    }

    #[test]
    fn retries_double_up_to_the_longest_delay_and_stop_after_a_day() {
        let policy = RetryPolicy::DEFAULT;
        let created = at(1_000_000);
        assert_eq!(policy.next_attempt(1, created, created), Some(at(1_000_030)));
        assert_eq!(policy.next_attempt(2, created, created), Some(at(1_000_060)));
        assert_eq!(policy.next_attempt(3, created, created), Some(at(1_000_120)));
        assert_eq!(policy.next_attempt(20, created, created), Some(at(1_003_600)));
        assert_eq!(policy.next_attempt(u32::MAX, created, created), Some(at(1_003_600)));
        let almost_a_day = at(1_000_000 + 24 * 3600 - 30);
        assert_eq!(policy.next_attempt(1, created, almost_a_day), Some(at(1_000_000 + 24 * 3600)));
        assert_eq!(policy.next_attempt(2, created, almost_a_day), None);
    }
}
