//! Payouts from a connected account's balance, and balances. The fake keeps no balance
//! transactions: a balance is computed from the objects, all of it `available`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, int, new_id, text};

/// Payout statuses that no longer take money out of the balance.
const RETURNED: &[&str] = &["failed", "canceled"];
/// The statuses `set_payout_status` accepts (Stripe's enum).
const STATUSES: &[&str] = &["paid", "pending", "in_transit", "canceled", "failed"];
/// A standard payout arrives two days later in the test world.
const STANDARD_ARRIVAL_S: i64 = 2 * 24 * 60 * 60;

impl FakeState {
    pub(crate) fn create_payout(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        let Some(account) = ctx.owner() else {
            return Err(needs_account("POST /v1/payouts"));
        };
        let form = &ctx.form;
        let amount = form.int("amount").unwrap_or(0);
        let currency = form.get("currency").unwrap_or_default();
        let available = self.balances(Some(account)).get(currency).copied().unwrap_or(0);
        if available < amount {
            return Err(ApiError::invalid(format!(
                "You have insufficient funds in your Stripe account for this payout: {available} {currency} available, {amount} requested."
            ))
            .code("balance_insufficient"));
        }
        let method = form.get("method").unwrap_or("standard");
        let arrival = if method == "instant" { ctx.now } else { ctx.now + STANDARD_ARRIVAL_S };
        let payout = json!({
            "id": new_id("po_"),
            "object": "payout",
            "amount": amount,
            "currency": currency,
            "status": "pending",
            "method": method,
            "type": "bank_account",
            "automatic": false,
            "arrival_date": arrival,
            "description": form.get("description"),
            "statement_descriptor": form.get("statement_descriptor"),
            "failure_code": null,
            "failure_message": null,
            "metadata": form.map("metadata"),
            "created": ctx.now,
            "livemode": false,
        });
        Ok(self.insert(Some(account), payout))
    }

    pub(crate) fn cancel_payout(&mut self, id: &str, ctx: &Ctx) -> Result<Value, ApiError> {
        let Some(account) = ctx.owner() else {
            return Err(needs_account("POST /v1/payouts/{payout}/cancel"));
        };
        let payout = self.visible(id, "payout", Some(account)).ok_or_else(|| ApiError::no_such("payout", id, "id"))?;
        let status = text(payout, "status");
        if status != "pending" {
            return Err(ApiError::invalid(format!("Payouts can only be canceled while they are pending; {id} is {status}.")));
        }
        let payout = self.get_mut(id).ok_or_else(|| ApiError::no_such("payout", id, "id"))?;
        payout["status"] = json!("canceled");
        Ok(payout.clone())
    }

    /// Test control: the bank's answer, which Stripe reports as `payout.paid`/`payout.failed`.
    pub(crate) fn set_payout_status(&mut self, id: &str, status: &str) -> Option<Value> {
        if !STATUSES.contains(&status) {
            return None;
        }
        let payout = self.get_mut(id).filter(|p| text(p, "object") == "payout")?;
        payout["status"] = json!(status);
        let failed = status == "failed";
        payout["failure_code"] = if failed { json!("account_closed") } else { Value::Null };
        payout["failure_message"] = if failed { json!("The bank account has been closed.") } else { Value::Null };
        Some(payout.clone())
    }

    /// Per currency. A connected account: transfers to it − their reversals − its payouts that
    /// did not fail or get canceled. The platform: charges − refunds − transfers + reversals.
    pub(crate) fn balances(&self, account: Option<&str>) -> BTreeMap<String, i64> {
        let mut out: BTreeMap<String, i64> = BTreeMap::new();
        let mut add = |value: &Value, amount: i64| *out.entry(text(value, "currency").to_string()).or_default() += amount;
        for transfer in self.all("transfer") {
            let net = int(&transfer.value, "amount") - int(&transfer.value, "amount_reversed");
            match account {
                Some(acct) if text(&transfer.value, "destination") == acct => add(&transfer.value, net),
                None => add(&transfer.value, -net),
                Some(_) => {}
            }
        }
        match account {
            Some(acct) => {
                for payout in self.all("payout").filter(|p| p.owner.as_deref() == Some(acct)) {
                    if !RETURNED.contains(&text(&payout.value, "status")) {
                        add(&payout.value, -int(&payout.value, "amount"));
                    }
                }
            }
            None => {
                for charge in self.all("charge").filter(|c| c.owner.is_none()) {
                    add(&charge.value, int(&charge.value, "amount") - int(&charge.value, "amount_refunded"));
                }
            }
        }
        out
    }

    pub(crate) fn balance(&self, account: Option<&str>) -> Value {
        let mut balances = self.balances(account);
        if balances.is_empty() {
            balances.insert("usd".to_string(), 0);
        }
        let entries = |zero: bool| -> Vec<Value> {
            balances
                .iter()
                .map(|(currency, amount)| {
                    let amount = if zero { 0 } else { *amount };
                    json!({"amount": amount, "currency": currency, "source_types": {"card": amount}})
                })
                .collect()
        };
        json!({
            "object": "balance",
            "available": entries(false),
            "pending": entries(true),
            "instant_available": entries(false),
            "livemode": false,
        })
    }
}

fn needs_account(call: &str) -> ApiError {
    ApiError::invalid(format!("{call} needs a Stripe-Account header: fake-stripe pays out a connected account's balance."))
}
