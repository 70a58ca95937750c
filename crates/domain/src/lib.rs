//! The pure core of the payment service: money, validation, state machines and the
//! ledger's rules. No IO, no async, no database types.

pub mod accounts;
pub mod disputes;
pub mod error;
pub mod escrow;
pub mod events;
pub mod fees;
pub mod ledger;
pub mod money;
pub mod payment;
pub mod payouts;
pub mod reconciliation;
pub mod refunds;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transfers;
pub mod validation;
pub mod wallet;

pub use error::FieldError;
pub use money::{Currency, Money, MoneyError};
