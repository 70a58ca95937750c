//! Checkout Sessions, and the buyer paying one (a PaymentIntent plus its Charge).

use serde_json::{Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, IntentData, int, new_id, text};

/// Stripe's default session lifetime.
const SESSION_LIFETIME_S: i64 = 24 * 60 * 60;

impl FakeState {
    pub(crate) fn create_session(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        let form = &ctx.form;
        let mut amount_total: i64 = 0;
        let mut currency = None;
        for index in form.indices("line_items") {
            let item = format!("line_items[{index}]");
            let unit_amount = form.int(&format!("{item}[price_data][unit_amount]")).unwrap_or(0);
            let quantity = form.int(&format!("{item}[quantity]")).unwrap_or(1);
            amount_total = amount_total.saturating_add(unit_amount.saturating_mul(quantity));
            currency = currency.or_else(|| form.get(&format!("{item}[price_data][currency]")).map(str::to_string));
        }
        let id = new_id("cs_test_");
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": null,
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "currency": currency,
            "client_reference_id": form.get("client_reference_id"),
            "customer_email": form.get("customer_email"),
            "locale": form.get("locale"),
            "metadata": form.map("metadata"),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "mode": "payment",
            "created": ctx.now,
            "expires_at": form.int("expires_at").unwrap_or(ctx.now + SESSION_LIFETIME_S),
            "livemode": false,
        });
        let intent = IntentData {
            metadata: form.map("payment_intent_data[metadata]"),
            transfer_group: form.get("payment_intent_data[transfer_group]").map(str::to_string),
        };
        self.intent_data.insert(id, intent);
        Ok(self.insert(ctx.owner(), session))
    }

    pub(crate) fn expire_session(&mut self, id: &str, ctx: &Ctx) -> Result<Value, ApiError> {
        let session =
            self.visible(id, "checkout.session", ctx.owner()).ok_or_else(|| ApiError::no_such("checkout.session", id, "id"))?;
        let status = text(session, "status");
        if status != "open" {
            return Err(ApiError::invalid(format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{status}\"."
            )));
        }
        let session = self.get_mut(id).ok_or_else(|| ApiError::no_such("checkout.session", id, "id"))?;
        session["status"] = json!("expired");
        Ok(session.clone())
    }

    /// The buyer pays: an open session gets a succeeded PaymentIntent and Charge. A
    /// completed session is returned as it is; an expired or unknown one gives `None`.
    pub(crate) fn pay_session(&mut self, id: &str) -> Option<Value> {
        let stored = self.get(id).filter(|s| s.object() == "checkout.session")?;
        let owner = stored.owner.clone();
        let session = stored.value.clone();
        match text(&session, "status") {
            "complete" => return Some(session),
            "open" => {}
            _ => return None,
        }
        let intent = self.intent_data.get(id).cloned().unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        let amount = int(&session, "amount_total");
        let currency = text(&session, "currency");
        let pi_id = new_id("pi_");
        let charge_id = new_id("ch_");
        let payment_intent = json!({
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": currency,
            "status": "succeeded",
            "capture_method": "automatic",
            "latest_charge": charge_id,
            "metadata": intent.metadata,
            "transfer_group": intent.transfer_group,
            "created": now,
            "livemode": false,
        });
        let charge = json!({
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "currency": currency,
            "captured": true,
            "paid": true,
            "refunded": false,
            "status": "succeeded",
            "payment_intent": pi_id,
            "transfer_group": intent.transfer_group,
            "metadata": intent.metadata,
            "created": now,
            "livemode": false,
        });
        self.insert(owner.as_deref(), payment_intent);
        self.insert(owner.as_deref(), charge);
        let session = self.get_mut(id)?;
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(pi_id);
        Some(session.clone())
    }
}
