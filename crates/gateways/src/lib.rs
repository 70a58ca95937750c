//! Gateway adapters behind the app's `PaymentGateway` port.

pub mod events;
pub mod mock;
pub mod mock_connect;
pub mod signature;

pub use mock::MockGateway;
pub use mock_connect::MockConnectGateway;

/// Text that makes the mock gateway refuse an operation (a refund's reason, a
/// transfer's description, a withdrawal's description), so that failure paths can be
/// exercised end to end.
pub use app::wallet::MOCK_FAILURE_PREFIX;
