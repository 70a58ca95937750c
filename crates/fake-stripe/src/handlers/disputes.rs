//! Disputes: Stripe opens them on a charge (the buyer's bank did); the test decides
//! when and how they close. The fee and the withdrawal are balance transactions, as
//! Stripe reports them.

use serde_json::{Value, json};

use crate::state::{FakeState, int, new_id, text};

/// Stripe's dispute fee in the US (15.00 USD).
const DISPUTE_FEE: i64 = 1_500;

impl FakeState {
    /// Opens a dispute on the charge of a succeeded payment intent, for its whole
    /// amount: status `needs_response`, one withdrawal balance transaction with the fee.
    pub(crate) fn open_dispute(&mut self, payment_intent_id: &str, reason: &str) -> Option<Value> {
        let intent = self.get(payment_intent_id).filter(|s| s.object() == "payment_intent")?;
        let owner = intent.owner.clone();
        let intent = intent.value.clone();
        if text(&intent, "status") != "succeeded" {
            return None;
        }
        let amount = int(&intent, "amount");
        let now = chrono::Utc::now().timestamp();
        let dispute = json!({
            "id": new_id("dp_"),
            "object": "dispute",
            "amount": amount,
            "currency": text(&intent, "currency"),
            "charge": text(&intent, "latest_charge"),
            "payment_intent": payment_intent_id,
            "reason": reason,
            "status": "needs_response",
            "is_charge_refundable": false,
            "balance_transactions": [balance_transaction(-amount, DISPUTE_FEE, now)],
            "evidence_details": {"due_by": now + 7 * 86_400, "has_evidence": false, "past_due": false, "submission_count": 0},
            "metadata": {},
            "created": now,
            "livemode": false,
        });
        Some(self.insert(owner.as_deref(), dispute))
    }

    /// Closes an open dispute as `won` (the amount comes back: a second balance
    /// transaction; the fee stays) or `lost`. `None` for an unknown or closed one.
    pub(crate) fn close_dispute(&mut self, dispute_id: &str, outcome: &str) -> Option<Value> {
        if !matches!(outcome, "won" | "lost") {
            return None;
        }
        let dispute = self.get_mut(dispute_id)?;
        if !matches!(dispute["status"].as_str(), Some("needs_response" | "under_review")) {
            return None;
        }
        if outcome == "won" {
            let amount = int(dispute, "amount");
            let reinstated = balance_transaction(amount, 0, chrono::Utc::now().timestamp());
            dispute["balance_transactions"].as_array_mut()?.push(reinstated);
        }
        dispute["status"] = json!(outcome);
        Some(dispute.clone())
    }
}

fn balance_transaction(amount: i64, fee: i64, created: i64) -> Value {
    json!({
        "id": new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "reporting_category": if amount < 0 { "dispute" } else { "dispute_reversal" },
        "type": "adjustment",
        "created": created,
    })
}
