//! Gateway adapters behind the app's `PaymentGateway` port.

pub mod events;
pub mod mock;
pub mod mock_connect;
pub mod signature;

pub use mock::MockGateway;
pub use mock_connect::MockConnectGateway;
