//! The configured payment gateways, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::FieldError;

use crate::marketplace_ports::ConnectGateway;
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

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Empty means the default gateway.
    pub fn resolve(&self, field: &'static str, name: &str) -> Result<Arc<dyn PaymentGateway>, FieldError> {
        let name = if name.is_empty() { self.default.as_str() } else { name };
        self.by_name.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            FieldError::new(
                field,
                format!("{} is not a configured gateway (configured: {})", domain::validation::quote(name), known.join(", ")),
            )
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

/// The Connect gateways: the default one, and one for vendors of some countries
/// (Serbian vendors are paid through AllSecure, which Stripe Connect cannot reach).
pub struct ConnectGateways {
    default: Arc<dyn ConnectGateway>,
    local: Option<(Vec<String>, Arc<dyn ConnectGateway>)>,
}

impl ConnectGateways {
    pub fn new(default: Arc<dyn ConnectGateway>) -> Self {
        Self { default, local: None }
    }

    /// Vendors of `countries` (ISO alpha-2) use `gateway`.
    pub fn with_local(self, countries: Vec<String>, gateway: Arc<dyn ConnectGateway>) -> Self {
        Self { local: Some((countries, gateway)), ..self }
    }

    /// The gateway a new account of `country` is created at.
    pub fn for_country(&self, country: &str) -> &Arc<dyn ConnectGateway> {
        match &self.local {
            Some((countries, gateway)) if countries.iter().any(|c| c == country) => gateway,
            _ => &self.default,
        }
    }

    /// The gateway that made the account `gateway_account_id`.
    pub fn for_account(&self, gateway_account_id: &str) -> &Arc<dyn ConnectGateway> {
        match &self.local {
            Some((_, gateway)) if gateway.owns_account(gateway_account_id) => gateway,
            _ => &self.default,
        }
    }
}
