//! Transfers from the platform to connected accounts, and their reversals.

use serde_json::{Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, int, new_id, text};

impl FakeState {
    pub(crate) fn create_transfer(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        if ctx.account.is_some() {
            return Err(ApiError::invalid(
                "Transfers are made from the platform's balance: send POST /v1/transfers without a Stripe-Account header.",
            ));
        }
        let form = &ctx.form;
        let amount = form.int("amount").unwrap_or(0);
        let currency = form.get("currency").unwrap_or_default();
        let destination = form.get("destination").unwrap_or_default();
        if !self.is_account(destination) {
            return Err(ApiError::invalid(format!("No such destination: '{destination}'")).param("destination"));
        }
        let source_transaction = form.get("source_transaction");
        if let Some(source) = source_transaction {
            let charge = self
                .visible(source, "charge", None)
                .ok_or_else(|| ApiError::invalid(format!("No such charge: '{source}'")).param("source_transaction"))?;
            let charge_currency = text(charge, "currency");
            if charge_currency != currency {
                return Err(ApiError::invalid(format!(
                    "The currency of source_transaction's balance transaction ({charge_currency}) must be the same as the transfer \
                     currency ({currency})."
                ))
                .param("source_transaction"));
            }
        }
        let id = new_id("tr_");
        let transfer = json!({
            "id": id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": currency,
            "destination": destination,
            "source_transaction": source_transaction,
            "transfer_group": form.get("transfer_group"),
            "description": form.get("description"),
            "reversed": false,
            "reversals": {"object": "list", "data": [], "has_more": false, "total_count": 0, "url": format!("/v1/transfers/{id}/reversals")},
            "metadata": form.map("metadata"),
            "created": ctx.now,
            "livemode": false,
        });
        Ok(self.insert(None, transfer))
    }

    pub(crate) fn create_reversal(&mut self, transfer_id: &str, ctx: &Ctx) -> Result<Value, ApiError> {
        let transfer =
            self.visible(transfer_id, "transfer", ctx.owner()).ok_or_else(|| ApiError::no_such("transfer", transfer_id, "id"))?;
        let currency = text(transfer, "currency").to_string();
        let rest = int(transfer, "amount") - int(transfer, "amount_reversed");
        if rest <= 0 {
            return Err(ApiError::invalid(format!("Transfer {transfer_id} has already been fully reversed.")));
        }
        let amount = ctx.form.int("amount").unwrap_or(rest);
        if amount > rest {
            return Err(ApiError::invalid(format!(
                "You cannot reverse more than the amount remaining on the transfer ({rest}); {amount} was requested."
            ))
            .param("amount"));
        }
        let reversal = json!({
            "id": new_id("trr_"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": currency,
            "transfer": transfer_id,
            "metadata": ctx.form.map("metadata"),
            "destination_payment_refund": null,
            "source_refund": null,
            "created": ctx.now,
        });
        let reversal = self.insert(ctx.owner(), reversal);
        let transfer = self.get_mut(transfer_id).ok_or_else(|| ApiError::no_such("transfer", transfer_id, "id"))?;
        let reversed = int(transfer, "amount_reversed") + amount;
        transfer["amount_reversed"] = json!(reversed);
        transfer["reversed"] = json!(reversed >= int(transfer, "amount"));
        if let Some(list) = transfer["reversals"]["data"].as_array_mut() {
            list.insert(0, reversal.clone());
            let count = list.len();
            transfer["reversals"]["total_count"] = json!(count);
        }
        Ok(reversal)
    }
}
