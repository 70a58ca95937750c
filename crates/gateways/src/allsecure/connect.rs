//! Vendors paid through AllSecure (Serbian vendors, whom Stripe Connect cannot pay
//! out). AllSecure has no connected accounts: the vendor's share stays in the
//! platform's AllSecure merchant balance, recorded in our ledger, so transfers and
//! reversals are book entries. Onboarding registers the vendor's card (a `register`
//! transaction on the hosted page) and payouts go to that card.

use std::sync::Arc;

use app::marketplace_ports::{AccountLink, ConnectGateway, GatewayBalance};
use app::ports::{GatewayError, GatewayPayout, GatewayPayoutAnswer};
use domain::accounts::ConnectedAccount;
use domain::payment::Payment;
use domain::payouts::Payout;
use domain::transfers::{Transfer, TransferReversal};
use serde_json::json;

use super::{AllSecureClient, DESCRIPTION_MAX, Outcome, pay_to_card};

/// Our ids of accounts that live with AllSecure.
pub(crate) const ACCOUNT_PREFIX: &str = "acct_as_";
/// Transfers and reversals are book entries of ours: AllSecure moves no money for
/// them, and their ids are derived from our records'.
pub(crate) const TRANSFER_PREFIX: &str = "tr_as_";
pub(crate) const REVERSAL_PREFIX: &str = "trr_as_";

pub struct AllSecureConnectGateway {
    client: Arc<AllSecureClient>,
    callback_url: String,
}

impl AllSecureConnectGateway {
    pub fn new(client: Arc<AllSecureClient>, public_url: &str) -> Self {
        Self { client, callback_url: super::callback_url(public_url) }
    }
}

#[async_trait::async_trait]
impl ConnectGateway for AllSecureConnectGateway {
    async fn create_account(&self, account: &ConnectedAccount) -> Result<String, GatewayError> {
        Ok(format!("{ACCOUNT_PREFIX}{}", account.id.simple()))
    }

    /// The card registration page; its callback (keyed by the link's id) enables payouts.
    async fn create_account_link(&self, account: &ConnectedAccount, link: &AccountLink) -> Result<String, GatewayError> {
        let id = link.id.to_string();
        let body = json!({
            "merchantTransactionId": id,
            "successUrl": link.return_url,
            "cancelUrl": link.refresh_url,
            "errorUrl": link.refresh_url,
            "callbackUrl": self.callback_url,
            "description": format!("Card for payouts to {}", account.email).chars().take(DESCRIPTION_MAX).collect::<String>(),
        });
        match self.client.transact("register", &id, &body).await? {
            Outcome::Redirect { url, .. } => Ok(url),
            Outcome::Finished { .. } | Outcome::Pending { .. } => Ok(link.return_url.clone()),
            Outcome::Failed { code, message, .. } => Err(GatewayError::Refused(format!(
                "AllSecure refused the card registration (code {}): {message}",
                code.unwrap_or_default()
            ))),
        }
    }

    async fn create_transfer(&self, transfer: &Transfer, _source: Option<&Payment>) -> Result<String, GatewayError> {
        Ok(format!("{TRANSFER_PREFIX}{}", transfer.id.simple()))
    }

    async fn reverse_transfer(&self, _transfer: &Transfer, reversal: &TransferReversal) -> Result<String, GatewayError> {
        Ok(format!("{REVERSAL_PREFIX}{}", reversal.id.simple()))
    }

    async fn create_payout(&self, payout: &Payout, account: &ConnectedAccount) -> Result<String, GatewayError> {
        let card = account.payout_card.as_deref().ok_or_else(|| GatewayError::Refused(no_card(account)))?;
        let to_card = GatewayPayout {
            id: payout.id,
            amount: payout.amount,
            card_reference: card.to_owned(),
            description: payout.description.clone(),
        };
        // Paid at once or later, the payout event settles our record.
        match pay_to_card(&self.client, &self.callback_url, &to_card).await? {
            GatewayPayoutAnswer::Paid { gateway_id } | GatewayPayoutAnswer::Pending { gateway_id } => Ok(gateway_id),
        }
    }

    async fn cancel_payout(&self, _payout: &Payout, _account: &ConnectedAccount) -> Result<(), GatewayError> {
        Err(GatewayError::Refused("AllSecure payouts cannot be canceled once sent".into()))
    }

    /// Our ledger is the vendor's balance: AllSecure keeps none per vendor.
    async fn balance(&self, _account: &ConnectedAccount) -> Result<Option<Vec<GatewayBalance>>, GatewayError> {
        Ok(None)
    }

    fn settles_payouts_by_events(&self) -> bool {
        true
    }

    fn owns_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.starts_with(ACCOUNT_PREFIX)
    }

    fn payout_precondition(&self, account: &ConnectedAccount) -> Result<(), String> {
        account.payout_card.as_ref().map(|_| ()).ok_or_else(|| no_card(account))
    }
}

fn no_card(account: &ConnectedAccount) -> String {
    format!("account {} has no card registered with AllSecure for payouts: create an account link and register one", account.id)
}
