//! The configured payment gateways, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::FieldError;

use crate::ports::PaymentGateway;

pub struct Gateways {
    default: String,
    by_name: BTreeMap<String, Arc<dyn PaymentGateway>>,
}

impl Gateways {
    /// `default` must name one of `gateways`; the server's config guarantees it.
    pub fn new(default: impl Into<String>, gateways: Vec<Arc<dyn PaymentGateway>>) -> Self {
        let by_name = gateways.into_iter().map(|g| (g.name().to_owned(), g)).collect();
        Self { default: default.into(), by_name }
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// Empty means the default gateway.
    pub fn resolve(&self, field: &'static str, name: &str) -> Result<Arc<dyn PaymentGateway>, FieldError> {
        let name = if name.is_empty() { self.default.as_str() } else { name };
        self.by_name.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            FieldError::new(field, format!("'{name}' is not a configured gateway (configured: {})", known.join(", ")))
        })
    }

    /// The gateway that pays withdrawals in `currency` out to cards, if one is
    /// configured; otherwise the mock's bank settles them.
    pub fn card_payout_gateway(&self, currency: &str) -> Option<Arc<dyn PaymentGateway>> {
        self.by_name
            .values()
            .find(|g| g.pays_out_to_cards() && g.limits().currencies.as_ref().is_none_or(|c| c.iter().any(|c| c == currency)))
            .cloned()
    }
}
