//! Gateway adapters behind the app's `PaymentGateway` port.

pub mod events;
pub mod mock;
pub mod signature;

pub use mock::MockGateway;
