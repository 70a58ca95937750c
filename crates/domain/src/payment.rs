//! Payments: their types, their state machine, and the checks on a new checkout.

use std::collections::BTreeMap;

use crate::error::FieldError;
use crate::money::Money;
use crate::validation::{IdempotencyKey, RedirectUrl, validate_metadata};

/// Escrow hold when the client asks for escrow but gives no period (SPEC §4).
pub const ESCROW_HOLD_DAYS_DEFAULT: i32 = 7;
/// A hold longer than a year is certainly a client bug.
pub const ESCROW_HOLD_DAYS_MAX: i32 = 365;
/// Free-text ids supplied by clients (user_id, buyer_id) are bounded like everything else.
pub const CLIENT_ID_LEN_MAX: usize = 255;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and logged form.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn from_str_opt(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    PaymentStatus {
        Pending => "pending",
        Processing => "processing",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        Refunded => "refunded",
    }
);

text_enum!(
    PaymentType {
        PlatformService => "platform_service",
        ProductB2c => "product_b2c",
        ProductC2c => "product_c2c",
        BalanceDeposit => "balance_deposit",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment cannot move from {from} to {to}")]
pub struct InvalidTransition {
    pub from: PaymentStatus,
    pub to: PaymentStatus,
}

impl PaymentStatus {
    /// The transitions of SPEC §3; everything else is refused. A failed payment may
    /// still succeed: a buyer retries on the gateway's page after a declined card, and
    /// money the gateway took must never be left unrecorded.
    pub fn can_become(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Processing)
                | (Processing, Succeeded)
                | (Processing, Failed)
                | (Failed, Succeeded)
                | (Pending, Cancelled)
                | (Succeeded, Refunded)
        )
    }

    /// Walks a path of transitions, so a gateway that reports the final outcome of a
    /// still-pending payment passes through processing as the state machine demands.
    pub fn walk(self, path: &[PaymentStatus]) -> Result<PaymentStatus, InvalidTransition> {
        path.iter().try_fold(self, |from, &to| if from.can_become(to) { Ok(to) } else { Err(InvalidTransition { from, to }) })
    }

    /// Applies a gateway outcome to the current status.
    pub fn settle(self, outcome: PaymentOutcome) -> Result<PaymentStatus, InvalidTransition> {
        use PaymentStatus::*;
        match (self, outcome) {
            (Pending, PaymentOutcome::Succeeded) => self.walk(&[Processing, Succeeded]),
            (Pending, PaymentOutcome::Failed) => self.walk(&[Processing, Failed]),
            (_, PaymentOutcome::Succeeded) => self.walk(&[Succeeded]),
            (_, PaymentOutcome::Failed) => self.walk(&[Failed]),
            (_, PaymentOutcome::Expired) => self.walk(&[Cancelled]),
        }
    }
}

/// What a gateway says happened to a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Succeeded,
    Failed,
    Expired,
}

/// Escrow terms of a checkout: the money is held for `hold_days` for `merchant_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowTerms {
    pub merchant_id: uuid::Uuid,
    pub hold_days: i32,
}

/// A checkout request that passed every check; the only way to create a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub user_id: String,
    pub amount: Money,
    pub payment_type: PaymentType,
    pub success_url: RedirectUrl,
    pub cancel_url: RedirectUrl,
    pub escrow: Option<EscrowTerms>,
    pub merchant_id: Option<uuid::Uuid>,
    pub buyer_id: Option<String>,
    pub gateway_name: String,
    pub idempotency_key: Option<IdempotencyKey>,
    pub metadata: BTreeMap<String, String>,
}

/// The raw fields of a checkout, as they come off the wire (already decoded from
/// their transport, not yet validated).
#[derive(Debug, Clone, Default)]
pub struct CheckoutInput {
    pub user_id: String,
    pub amount: String,
    pub currency: String,
    pub payment_type: Option<PaymentType>,
    pub success_url: String,
    pub cancel_url: String,
    pub escrow_enabled: bool,
    pub escrow_hold_days: i32,
    pub merchant_id: String,
    pub buyer_id: String,
    pub gateway_name: String,
    pub idempotency_key: String,
    pub metadata: BTreeMap<String, String>,
}

impl CheckoutRequest {
    /// Checks every field; the first problem found is returned, naming its field.
    /// `gateway_name` must already be resolved (empty → default) by the caller.
    pub fn parse(input: CheckoutInput) -> Result<Self, FieldError> {
        let user_id = parse_client_id("user_id", &input.user_id)?;
        let amount = Money::parse_request(&input.amount, &input.currency)?;
        let payment_type = input.payment_type.ok_or_else(|| {
            FieldError::new("payment_type", "is required: one of platform_service, product_b2c, product_c2c, balance_deposit")
        })?;
        let success_url = RedirectUrl::parse("success_url", &input.success_url)?;
        let cancel_url = RedirectUrl::parse("cancel_url", &input.cancel_url)?;
        let merchant_id = parse_optional_uuid("merchant_id", &input.merchant_id)?;
        if input.escrow_enabled && payment_type == PaymentType::BalanceDeposit {
            return Err(FieldError::new(
                "escrow_enabled",
                "is not allowed for a balance_deposit (the money goes to the buyer's own wallet)",
            ));
        }
        let escrow = if input.escrow_enabled {
            let merchant_id =
                merchant_id.ok_or_else(|| FieldError::new("merchant_id", "is required when escrow_enabled is true"))?;
            let hold_days = match input.escrow_hold_days {
                0 => ESCROW_HOLD_DAYS_DEFAULT,
                days if (1..=ESCROW_HOLD_DAYS_MAX).contains(&days) => days,
                days => {
                    return Err(FieldError::new("escrow_hold_days", format!("{days} is outside 1..={ESCROW_HOLD_DAYS_MAX}")));
                }
            };
            Some(EscrowTerms { merchant_id, hold_days })
        } else {
            None
        };
        let buyer_id = if input.buyer_id.is_empty() { None } else { Some(parse_client_id("buyer_id", &input.buyer_id)?) };
        let idempotency_key = IdempotencyKey::parse_optional("idempotency_key", &input.idempotency_key)?;
        validate_metadata("metadata", &input.metadata)?;
        Ok(Self {
            user_id,
            amount,
            payment_type,
            success_url,
            cancel_url,
            escrow,
            merchant_id,
            buyer_id,
            gateway_name: input.gateway_name,
            idempotency_key,
            metadata: input.metadata,
        })
    }
}

/// A user id of the platform's: the token's `sub` for a user acting for themself.
pub fn parse_client_id(field: &'static str, text: &str) -> Result<String, FieldError> {
    crate::validation::parse_identifier(field, text, CLIENT_ID_LEN_MAX)
}

/// An id that must be a UUID when given.
pub fn parse_optional_uuid(field: &'static str, text: &str) -> Result<Option<uuid::Uuid>, FieldError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse_uuid(field, text).map(Some)
}

/// An id that must be a UUID.
pub fn parse_uuid(field: &'static str, text: &str) -> Result<uuid::Uuid, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    uuid::Uuid::try_parse(text).map_err(|_| FieldError::new(field, "is not a valid UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    #[test]
    fn only_the_transitions_of_the_spec_are_allowed() {
        let allowed: Vec<_> = PaymentStatus::ALL
            .iter()
            .flat_map(|&from| PaymentStatus::ALL.iter().map(move |&to| (from, to)))
            .filter(|&(from, to)| from.can_become(to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Processing),
                (Pending, Cancelled),
                (Processing, Succeeded),
                (Processing, Failed),
                (Succeeded, Refunded),
                (Failed, Succeeded)
            ]
        );
    }

    #[test]
    fn a_gateway_outcome_settles_a_pending_payment_through_processing() {
        assert_eq!(Pending.settle(PaymentOutcome::Succeeded), Ok(Succeeded));
        assert_eq!(Processing.settle(PaymentOutcome::Failed), Ok(Failed));
        assert_eq!(Pending.settle(PaymentOutcome::Expired), Ok(Cancelled));
        assert_eq!(Succeeded.settle(PaymentOutcome::Failed), Err(InvalidTransition { from: Succeeded, to: Failed }));
        assert_eq!(Failed.settle(PaymentOutcome::Succeeded), Ok(Succeeded), "money taken after a decline is honoured");
        assert!(Cancelled.settle(PaymentOutcome::Succeeded).is_err(), "an expired session never succeeds later");
        assert!(Processing.settle(PaymentOutcome::Expired).is_err());
    }

    fn valid_input() -> CheckoutInput {
        CheckoutInput {
            user_id: "user-1".into(),
            amount: "100.50".into(),
            currency: "USD".into(),
            payment_type: Some(PaymentType::ProductB2c),
            success_url: "https://shop.example/ok?s={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "http://localhost:3000/cancel".into(),
            gateway_name: "mock".into(),
            ..CheckoutInput::default()
        }
    }

    fn field_of(input: CheckoutInput) -> &'static str {
        CheckoutRequest::parse(input).map(|_| "").unwrap_or_else(|e| e.field)
    }

    #[test]
    fn each_bad_checkout_field_is_named() {
        assert_eq!(field_of(valid_input()), "");
        type Mutation = Box<dyn Fn(&mut CheckoutInput)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("user_id", Box::new(|i| i.user_id.clear())),
            ("amount", Box::new(|i| i.amount = "10.555".into())),
            ("amount", Box::new(|i| i.amount = "0".into())),
            ("currency", Box::new(|i| i.currency = "ZZZ".into())),
            ("payment_type", Box::new(|i| i.payment_type = None)),
            ("success_url", Box::new(|i| i.success_url = "ftp://x".into())),
            ("cancel_url", Box::new(|i| i.cancel_url = "javascript:alert(1)".into())),
            ("merchant_id", Box::new(|i| i.merchant_id = "not-a-uuid".into())),
            ("merchant_id", Box::new(|i| i.escrow_enabled = true)),
            ("idempotency_key", Box::new(|i| i.idempotency_key = "k".repeat(256))),
            ("metadata", Box::new(|i| i.metadata = (0..51).map(|n| (n.to_string(), String::new())).collect())),
            ("buyer_id", Box::new(|i| i.buyer_id = "b".repeat(300))),
            (
                "escrow_enabled",
                Box::new(|i| {
                    i.payment_type = Some(PaymentType::BalanceDeposit);
                    i.escrow_enabled = true;
                    i.merchant_id = uuid::Uuid::nil().to_string();
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut input = valid_input();
            mutate(&mut input);
            assert_eq!(field_of(input), field);
        }
    }

    #[test]
    fn escrow_defaults_to_seven_days_and_bounds_the_period() {
        let mut input = valid_input();
        input.escrow_enabled = true;
        input.merchant_id = uuid::Uuid::nil().to_string();
        let request = CheckoutRequest::parse(input.clone()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(request.escrow.map(|e| e.hold_days), Some(ESCROW_HOLD_DAYS_DEFAULT));
        input.escrow_hold_days = -1;
        assert_eq!(field_of(input), "escrow_hold_days");
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: uuid::Uuid,
    pub user_id: String,
    pub amount: Money,
    pub payment_type: PaymentType,
    pub status: PaymentStatus,
    pub gateway_name: String,
    pub gateway_session_id: Option<String>,
    pub gateway_payment_intent_id: Option<String>,
    pub checkout_url: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub merchant_id: Option<uuid::Uuid>,
    pub buyer_id: Option<String>,
    pub escrow: Option<EscrowTerms>,
    pub refunded_minor: i64,
    pub idempotency_key: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub failure_reason: Option<String>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Payment {
    /// A new pending payment for a validated request; the gateway session is
    /// attached once the gateway has answered (never inside a transaction), or set
    /// before the write when the gateway opens it without a call.
    pub fn pending(id: uuid::Uuid, request: &CheckoutRequest, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id,
            user_id: request.user_id.clone(),
            amount: request.amount,
            payment_type: request.payment_type,
            status: PaymentStatus::Pending,
            gateway_name: request.gateway_name.clone(),
            gateway_session_id: None,
            gateway_payment_intent_id: None,
            checkout_url: None,
            success_url: request.success_url.as_str().to_owned(),
            cancel_url: request.cancel_url.as_str().to_owned(),
            merchant_id: request.escrow.as_ref().map(|e| e.merchant_id).or(request.merchant_id),
            buyer_id: request.buyer_id.clone(),
            escrow: request.escrow.clone(),
            refunded_minor: 0,
            idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            metadata: request.metadata.clone(),
            failure_reason: None,
            paid_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Where the buyer's browser goes after the hosted page: the success URL once
    /// paid, the cancel URL otherwise, with the session id substituted.
    pub fn redirect_url(&self) -> String {
        let url = if matches!(self.status, PaymentStatus::Succeeded | PaymentStatus::Refunded) {
            &self.success_url
        } else {
            &self.cancel_url
        };
        url.replace(crate::validation::CHECKOUT_SESSION_ID_PLACEHOLDER, self.gateway_session_id.as_deref().unwrap_or_default())
    }

    /// Where captured money lands: escrow for escrowed orders, the buyer's wallet for
    /// top-ups, the platform's cash otherwise.
    pub fn capture_entry(&self) -> Result<crate::ledger::JournalEntry, crate::ledger::LedgerError> {
        use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount};
        let currency = self.amount.currency();
        let destination = match (&self.escrow, self.payment_type) {
            (Some(_), _) => LedgerAccount::platform(AccountKind::PlatformEscrow, currency),
            (None, PaymentType::BalanceDeposit) => LedgerAccount::owned(AccountKind::Wallet, self.user_id.clone(), currency),
            (None, _) => LedgerAccount::platform(AccountKind::PlatformCash, currency),
        };
        JournalEntry::movement(
            EntryKind::Capture,
            self.id.to_string(),
            LedgerAccount::platform(AccountKind::External, currency),
            destination,
            self.amount,
        )
    }
}
