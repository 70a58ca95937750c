//! Use cases of the payment service. They own the order of effects (validate → store
//! in one transaction → call the gateway outside it) and define the ports that the
//! storage and gateway adapters implement.

pub mod auth;
mod checkout;
pub mod error;
pub mod gateways;
pub mod metrics;
mod payments;
pub mod ports;
pub mod webhooks;

use std::sync::Arc;

pub use auth::{Principal, Role};
pub use error::{AppError, StoreError};
pub use gateways::Gateways;
pub use payments::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
pub use webhooks::WebhookReceipt;

/// The application: every use case is a method on it.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn ports::Store>,
    gateways: Arc<Gateways>,
    /// Gateways served by the built-in mock, whose hosted page may complete sessions.
    mock_gateway_names: Arc<Vec<String>>,
}

impl App {
    pub fn new(store: Arc<dyn ports::Store>, gateways: Gateways, mock_gateway_names: Vec<String>) -> Self {
        Self { store, gateways: Arc::new(gateways), mock_gateway_names: Arc::new(mock_gateway_names) }
    }

    pub fn store(&self) -> &Arc<dyn ports::Store> {
        &self.store
    }
}
