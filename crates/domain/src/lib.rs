//! The pure core of the payment service: money, validation, state machines and the
//! ledger's rules. No IO, no async, no database types.

pub mod error;
pub mod ledger;
pub mod money;
pub mod payment;
pub mod validation;

pub use error::FieldError;
pub use money::{Currency, Money, MoneyError};
