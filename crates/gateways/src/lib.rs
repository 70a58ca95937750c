//! Gateway adapters behind the app's `PaymentGateway` and `ConnectGateway` ports:
//! the built-in mock, Stripe and AllSecure.

pub mod allsecure;
pub mod event_publisher;
pub mod event_sender;
pub mod events;
pub mod mock;
pub mod mock_connect;
pub mod signature;
pub mod stripe;

pub use allsecure::{AllSecureClient, AllSecureConnectGateway, AllSecureGateway, AllSecureSettings};
pub use mock::MockGateway;
pub use mock_connect::MockConnectGateway;
pub use stripe::{StripeClient, StripeConnectGateway, StripeGateway, StripeSettings};

/// Text that makes the mock gateway refuse an operation (a refund's reason, a
/// transfer's description, a withdrawal's description), so that failure paths can be
/// exercised end to end.
pub use app::wallet::MOCK_FAILURE_PREFIX;

/// reqwest's TLS (rustls) needs one process-wide crypto provider: ring, which builds
/// with a plain C compiler. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
