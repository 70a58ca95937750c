//! The mock gateway's Connect side: account, transfer and payout ids derived from
//! ours (so every call is idempotent), and the hosted onboarding page's URL.

use app::marketplace_ports::ConnectGateway;
use app::ports::GatewayError;
use domain::payouts::Payout;
use domain::transfers::Transfer;
use uuid::Uuid;

pub struct MockConnectGateway {
    public_url: String,
}

impl MockConnectGateway {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self { public_url: public_url.into().trim_end_matches('/').to_owned() }
    }
}

#[async_trait::async_trait]
impl ConnectGateway for MockConnectGateway {
    async fn create_account(&self, account_id: Uuid) -> Result<String, GatewayError> {
        Ok(format!("acct_mock_{}", account_id.simple()))
    }

    fn onboarding_url(&self, account_id: Uuid, link_id: Uuid) -> String {
        format!("{}/connect/mock/onboarding?account_id={account_id}&link_id={link_id}", self.public_url)
    }

    /// A description starting with `mock_failure:` makes the mock refuse the transfer.
    async fn create_transfer(&self, transfer: &Transfer) -> Result<String, GatewayError> {
        if let Some(code) = transfer.description.strip_prefix(crate::MOCK_FAILURE_PREFIX) {
            return Err(GatewayError::Refused(format!("mock transfer refused: {code}")));
        }
        Ok(format!("tr_mock_{}", transfer.id.simple()))
    }

    async fn create_payout(&self, payout: &Payout) -> Result<String, GatewayError> {
        Ok(format!("po_mock_{}", payout.id.simple()))
    }
}
