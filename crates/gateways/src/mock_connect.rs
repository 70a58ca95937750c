//! The mock gateway's Connect side: account, transfer and payout ids derived from
//! ours (so every call is idempotent), and the hosted onboarding page's URL.

use app::marketplace_ports::{AccountLink, ConnectGateway, GatewayBalance};
use app::ports::GatewayError;
use domain::accounts::ConnectedAccount;
use domain::payment::Payment;
use domain::payouts::Payout;
use domain::transfers::{Transfer, TransferReversal};

pub struct MockConnectGateway {
    public_url: String,
}

impl MockConnectGateway {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self { public_url: public_url.into().trim_end_matches('/').to_owned() }
    }
}

/// A description, or a destination account id, starting with `mock_failure:` makes
/// the mock refuse the transfer (an escrow release's transfer has a fixed description).
fn transfer_answer(transfer: &Transfer) -> Result<String, GatewayError> {
    let failure = [&transfer.description, &transfer.gateway_account_id]
        .into_iter()
        .find_map(|text| text.strip_prefix(crate::MOCK_FAILURE_PREFIX));
    if let Some(code) = failure {
        return Err(GatewayError::Refused(format!("mock transfer refused: {code}")));
    }
    Ok(format!("tr_mock_{}", transfer.id.simple()))
}

#[async_trait::async_trait]
impl ConnectGateway for MockConnectGateway {
    async fn create_account(&self, account: &ConnectedAccount) -> Result<String, GatewayError> {
        Ok(format!("acct_mock_{}", account.id.simple()))
    }

    async fn create_account_link(&self, account: &ConnectedAccount, link: &AccountLink) -> Result<String, GatewayError> {
        Ok(format!("{}/connect/mock/onboarding?account_id={}&link_id={}", self.public_url, account.id, link.id))
    }

    async fn create_transfer(&self, transfer: &Transfer, _source: Option<&Payment>) -> Result<String, GatewayError> {
        transfer_answer(transfer)
    }

    /// Every transfer the mock does not refuse: its answer needs no call.
    fn transfer_without_call(&self, transfer: &Transfer) -> Option<String> {
        transfer_answer(transfer).ok()
    }

    async fn reverse_transfer(&self, _transfer: &Transfer, reversal: &TransferReversal) -> Result<String, GatewayError> {
        Ok(format!("trr_mock_{}", reversal.id.simple()))
    }

    async fn create_payout(&self, payout: &Payout, _account: &ConnectedAccount) -> Result<String, GatewayError> {
        Ok(format!("po_mock_{}", payout.id.simple()))
    }

    async fn cancel_payout(&self, _payout: &Payout, _account: &ConnectedAccount) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The mock keeps no money of its own: the ledger is the balance.
    async fn balance(&self, _account: &ConnectedAccount) -> Result<Option<Vec<GatewayBalance>>, GatewayError> {
        Ok(None)
    }

    fn settles_payouts_by_events(&self) -> bool {
        false
    }

    fn owns_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.starts_with("acct_mock_")
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::{Currency, Money};
    use uuid::Uuid;

    use super::*;

    fn transfer(description: &str) -> Transfer {
        let now = Utc::now();
        let account = domain::testing::vendor_account(Uuid::now_v7(), now).onboarded(now);
        let amount = Money::from_minor(1_000, Currency::parse("currency", "USD").expect("USD"));
        Transfer::pending(&account, None, amount, description.into(), now, now)
    }

    /// The answer without a call is the call's answer, so a transfer written paid at
    /// once has the id a later call (the recovery job's) would get; a refusal the
    /// mock is told to make still goes through the call.
    #[tokio::test]
    async fn a_transfer_is_made_without_a_call_unless_it_is_to_be_refused() {
        let mock = MockConnectGateway::new("http://localhost:30051");
        let made = transfer("order 7");
        let called = mock.create_transfer(&made, None).await.expect("made");
        assert_eq!(mock.transfer_without_call(&made), Some(called));
        let refused = transfer("mock_failure:account_closed");
        assert!(mock.create_transfer(&refused, None).await.is_err());
        assert_eq!(mock.transfer_without_call(&refused), None);
    }
}
