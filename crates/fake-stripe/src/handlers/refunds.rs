//! Refunds of a PaymentIntent's charge, partial ones up to what is left.

use serde_json::{Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, int, new_id, text};

/// Refund statuses that hold money back from the charge (failed and canceled give it back).
const HOLDING: &[&str] = &["pending", "requires_action", "succeeded"];
/// The statuses `set_refund_status` accepts (Stripe's enum).
const STATUSES: &[&str] = &["pending", "requires_action", "succeeded", "failed", "canceled"];

impl FakeState {
    pub(crate) fn create_refund(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        let form = &ctx.form;
        let owner = ctx.owner();
        let charge_id = match (form.get("payment_intent"), form.get("charge")) {
            (Some(pi), charge) => {
                let intent = self
                    .visible(pi, "payment_intent", owner)
                    .ok_or_else(|| ApiError::no_such("payment_intent", pi, "payment_intent"))?;
                let latest = text(intent, "latest_charge").to_string();
                if latest.is_empty() {
                    return Err(ApiError::invalid(format!(
                        "This PaymentIntent ({pi}) does not have a successful charge to refund."
                    ))
                    .code("charge_not_refundable"));
                }
                if let Some(charge) = charge
                    && charge != latest
                {
                    return Err(
                        ApiError::invalid(format!("Charge {charge} does not belong to PaymentIntent {pi}.")).param("charge")
                    );
                }
                latest
            }
            (None, Some(charge)) => charge.to_string(),
            (None, None) => return Err(ApiError::missing_param("payment_intent")),
        };
        let charge =
            self.visible(&charge_id, "charge", owner).ok_or_else(|| ApiError::no_such("charge", &charge_id, "charge"))?;
        let currency = text(charge, "currency").to_string();
        let payment_intent = charge.get("payment_intent").cloned().unwrap_or(Value::Null);
        if let Some(given) = form.get("currency")
            && given != currency
        {
            return Err(
                ApiError::invalid(format!("The refund currency must be the charge's currency ({currency}).")).param("currency")
            );
        }
        let rest = int(charge, "amount") - self.refunded(&charge_id);
        if rest <= 0 {
            return Err(
                ApiError::invalid(format!("Charge {charge_id} has already been refunded.")).code("charge_already_refunded")
            );
        }
        let amount = form.int("amount").unwrap_or(rest);
        if amount > rest {
            return Err(ApiError::invalid(format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({rest})"
            ))
            .code("amount_too_large")
            .param("amount"));
        }
        let refund = json!({
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "currency": currency,
            "payment_intent": payment_intent,
            "charge": charge_id,
            "status": if self.refunds_start_pending { "pending" } else { "succeeded" },
            "reason": form.get("reason"),
            "metadata": form.map("metadata"),
            "failure_reason": null,
            "created": ctx.now,
        });
        let refund = self.insert(owner, refund);
        self.sync_charge(&charge_id);
        Ok(refund)
    }

    /// Test control: a refund settles or fails later, as Stripe reports by webhook.
    pub(crate) fn set_refund_status(&mut self, id: &str, status: &str) -> Option<Value> {
        if !STATUSES.contains(&status) {
            return None;
        }
        let refund = self.get_mut(id).filter(|r| text(r, "object") == "refund")?;
        refund["status"] = json!(status);
        refund["failure_reason"] = if status == "failed" { json!("lost_or_stolen_card") } else { Value::Null };
        let refund = refund.clone();
        self.sync_charge(text(&refund, "charge"));
        Some(refund)
    }

    /// What refunds currently hold back from this charge.
    fn refunded(&self, charge_id: &str) -> i64 {
        self.all("refund")
            .filter(|r| text(&r.value, "charge") == charge_id && HOLDING.contains(&text(&r.value, "status")))
            .map(|r| int(&r.value, "amount"))
            .sum()
    }

    /// Keeps the charge's `amount_refunded`/`refunded` in step with its refunds.
    fn sync_charge(&mut self, charge_id: &str) {
        let refunded = self.refunded(charge_id);
        if let Some(charge) = self.get_mut(charge_id) {
            let amount = int(charge, "amount");
            charge["amount_refunded"] = json!(refunded);
            charge["refunded"] = json!(refunded >= amount);
        }
    }
}
