//! Stripe Connect: express accounts with manual payouts, onboarding links,
//! transfers (with `source_transaction` when the money came through Stripe), their
//! reversals, payouts and balances of connected accounts (`Stripe-Account`).

use std::sync::Arc;

use app::marketplace_ports::{AccountLink, ConnectGateway, GatewayBalance};
use app::ports::GatewayError;
use domain::accounts::{AccountType, ConnectedAccount};
use domain::payment::Payment;
use domain::payouts::Payout;
use domain::transfers::{Transfer, TransferReversal};
use serde_json::Value;

use super::{Form, StripeClient, StripeError, key_still_valid, text};

pub struct StripeConnectGateway {
    client: Arc<StripeClient>,
}

impl StripeConnectGateway {
    pub fn new(client: Arc<StripeClient>) -> Self {
        Self { client }
    }

    /// The charge behind a Stripe payment, so that a transfer can be made from funds
    /// that have not settled yet.
    async fn source_charge(&self, payment: &Payment) -> Result<Option<String>, GatewayError> {
        let Some(intent) = payment.gateway_payment_intent_id.as_deref().filter(|_| payment.gateway_name == "stripe") else {
            return Ok(None);
        };
        let intent = self.client.get(&format!("/v1/payment_intents/{intent}"), None).await?;
        Ok(intent.get("latest_charge").and_then(Value::as_str).map(str::to_owned))
    }
}

fn balances(balance: &Value) -> Vec<GatewayBalance> {
    let amounts = |field: &str| -> Vec<(String, i64)> {
        balance
            .get(field)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|b| Some((b.get("currency")?.as_str()?.to_ascii_uppercase(), b.get("amount")?.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut result: Vec<GatewayBalance> = Vec::new();
    for (field, (currency, amount)) in
        amounts("available").into_iter().map(|a| ("available", a)).chain(amounts("pending").into_iter().map(|a| ("pending", a)))
    {
        let index = match result.iter().position(|b| b.currency == currency) {
            Some(index) => index,
            None => {
                result.push(GatewayBalance { currency, available_minor: 0, pending_minor: 0 });
                result.len() - 1
            }
        };
        match field {
            "available" => result[index].available_minor += amount,
            _ => result[index].pending_minor += amount,
        }
    }
    result
}

#[async_trait::async_trait]
impl ConnectGateway for StripeConnectGateway {
    /// Express and custom accounts get the transfers capability and a manual payout
    /// schedule (payouts wait for our call); standard accounts manage their own.
    async fn create_account(&self, account: &ConnectedAccount) -> Result<String, GatewayError> {
        let mut form = Form::new()
            .set("type", account.account_type.as_str())
            .set("country", &account.country)
            .set("email", &account.email)
            .set("business_type", account.business_type.as_str())
            .set("metadata[account_id]", account.id);
        if let Some(owner) = account.owner() {
            form = form.set("metadata[user_id]", owner);
        }
        if account.account_type != AccountType::Standard {
            form = form.set("capabilities[transfers][requested]", true).set("settings[payouts][schedule][interval]", "manual");
        }
        let created = self.client.post("/v1/accounts", &format!("account-{}", account.id), None, &form).await?;
        Ok(text(&created, "id")?.to_owned())
    }

    async fn create_account_link(&self, account: &ConnectedAccount, link: &AccountLink) -> Result<String, GatewayError> {
        let form = Form::new()
            .set("account", &account.gateway_account_id)
            .set("type", "account_onboarding")
            .set("refresh_url", &link.refresh_url)
            .set("return_url", &link.return_url);
        let created = self.client.post("/v1/account_links", &format!("account-link-{}", link.id), None, &form).await?;
        Ok(text(&created, "url")?.to_owned())
    }

    async fn create_transfer(&self, transfer: &Transfer, source: Option<&Payment>) -> Result<String, GatewayError> {
        key_still_valid("transfer", transfer.id, transfer.created_at)?;
        let mut form = Form::new()
            .set("amount", transfer.amount.minor())
            .set("currency", transfer.amount.currency().code().to_ascii_lowercase())
            .set("destination", &transfer.gateway_account_id)
            .set_nonempty("description", &transfer.description)
            .set("metadata[transfer_id]", transfer.id);
        if let Some(payment) = source {
            form = form.set("transfer_group", payment.id).set("metadata[payment_id]", payment.id);
            if let Some(charge) = self.source_charge(payment).await? {
                form = form.set("source_transaction", charge);
            }
        }
        let created = self.client.post("/v1/transfers", &format!("transfer-{}", transfer.id), None, &form).await?;
        Ok(text(&created, "id")?.to_owned())
    }

    async fn reverse_transfer(&self, transfer: &Transfer, reversal: &TransferReversal) -> Result<String, GatewayError> {
        let gateway_id = transfer.gateway_transfer_id.as_deref().ok_or(StripeError::Unexpected("the transfer's Stripe id"))?;
        key_still_valid("reversal", reversal.id, reversal.created_at)?;
        let form = Form::new()
            .set("amount", reversal.sent_minor())
            .set_nonempty("description", &reversal.description)
            .set("metadata[reversal_id]", reversal.id)
            .set("metadata[transfer_id]", transfer.id);
        let path = format!("/v1/transfers/{gateway_id}/reversals");
        let created = self.client.post(&path, &format!("reversal-{}", reversal.id), None, &form).await?;
        Ok(text(&created, "id")?.to_owned())
    }

    async fn create_payout(&self, payout: &Payout, account: &ConnectedAccount) -> Result<String, GatewayError> {
        key_still_valid("payout", payout.id, payout.created_at)?;
        let form = Form::new()
            .set("amount", payout.amount.minor())
            .set("currency", payout.amount.currency().code().to_ascii_lowercase())
            .set("method", payout.method.as_str())
            .set_nonempty("description", &payout.description)
            .set_nonempty("statement_descriptor", &payout.statement_descriptor)
            .set("metadata[payout_id]", payout.id);
        let key = format!("payout-{}", payout.id);
        let created = self.client.post("/v1/payouts", &key, Some(&account.gateway_account_id), &form).await?;
        Ok(text(&created, "id")?.to_owned())
    }

    async fn cancel_payout(&self, payout: &Payout, account: &ConnectedAccount) -> Result<(), GatewayError> {
        let gateway_id = payout.gateway_payout_id.as_deref().ok_or(StripeError::Unexpected("the payout's Stripe id"))?;
        let path = format!("/v1/payouts/{gateway_id}/cancel");
        self.client.post(&path, &format!("payout-cancel-{}", payout.id), Some(&account.gateway_account_id), &Form::new()).await?;
        Ok(())
    }

    async fn balance(&self, account: &ConnectedAccount) -> Result<Option<Vec<GatewayBalance>>, GatewayError> {
        let balance = self.client.get("/v1/balance", Some(&account.gateway_account_id)).await?;
        Ok(Some(balances(&balance)))
    }

    fn settles_payouts_by_events(&self) -> bool {
        true
    }

    fn owns_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.starts_with("acct_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_lists_fold_into_one_line_per_currency() {
        let balance = serde_json::json!({
            "available": [{"amount": 900, "currency": "usd"}, {"amount": 5, "currency": "eur"}],
            "pending": [{"amount": 100, "currency": "usd"}]
        });
        assert_eq!(
            balances(&balance),
            vec![
                GatewayBalance { currency: "USD".into(), available_minor: 900, pending_minor: 100 },
                GatewayBalance { currency: "EUR".into(), available_minor: 5, pending_minor: 0 },
            ]
        );
    }
}
