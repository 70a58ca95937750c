//! `GET /v1/balance_transactions`: the caller's balance movements, derived from the
//! objects the fake keeps. The platform sees its charges, refunds, transfers and
//! transfer reversals; a connected account its payouts. Newest first, paged like
//! every Stripe list (`limit`, `starting_after`, `ending_before`, `has_more`).

use serde_json::{Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, Stored, int, text};

/// Refunds and payouts in these statuses gave their money back: no movement left.
const UNDONE: [&str; 2] = ["failed", "canceled"];

impl FakeState {
    pub(crate) fn list_balance_transactions(&self, ctx: &Ctx) -> Result<Value, ApiError> {
        let form = &ctx.form;
        if form.has("payout") {
            return Err(
                ApiError::invalid("fake-stripe does not track which payout paid out a balance transaction.").param("payout")
            );
        }
        let created = |op: &str| form.int(&format!("created[{op}]"));
        let in_range = |at: i64| {
            created("gt").is_none_or(|b| at > b)
                && created("gte").is_none_or(|b| at >= b)
                && created("lt").is_none_or(|b| at < b)
                && created("lte").is_none_or(|b| at <= b)
        };
        let all: Vec<Value> = self
            .movements(ctx.owner())
            .into_iter()
            .rev()
            .filter(|t| in_range(int(t, "created")))
            .filter(|t| form.get("type").is_none_or(|kind| text(t, "type") == kind))
            .filter(|t| form.get("currency").is_none_or(|c| text(t, "currency") == c))
            .filter(|t| form.get("source").is_none_or(|s| text(t, "source") == s))
            .collect();
        let position = |param: &str, id: &str| {
            all.iter().position(|t| text(t, "id") == id).ok_or_else(|| ApiError::no_such("balance_transaction", id, param))
        };
        let limit = usize::try_from(form.int("limit").unwrap_or(10)).unwrap_or(10);
        let (page, has_more): (&[Value], bool) = match (form.get("starting_after"), form.get("ending_before")) {
            (Some(after), _) => {
                let rest = &all[position("starting_after", after)? + 1..];
                (&rest[..rest.len().min(limit)], rest.len() > limit)
            }
            (None, Some(before)) => {
                let rest = &all[..position("ending_before", before)?];
                (&rest[rest.len().saturating_sub(limit)..], rest.len() > limit)
            }
            (None, None) => (&all[..all.len().min(limit)], all.len() > limit),
        };
        Ok(json!({"object": "list", "url": "/v1/balance_transactions", "has_more": has_more, "data": page}))
    }

    /// Every movement of `owner`'s balance, oldest first.
    fn movements(&self, owner: Option<&str>) -> Vec<Value> {
        let mine = |stored: &&Stored| stored.owner.as_deref() == owner;
        let kinds: &[(&str, &str, i64)] = match owner {
            None => &[
                ("charge", "charge", 1),
                ("refund", "refund", -1),
                ("transfer", "transfer", -1),
                ("transfer_reversal", "transfer_refund", 1),
            ],
            Some(_) => &[("payout", "payout", -1)],
        };
        let mut movements: Vec<(i64, Value)> = Vec::new();
        for (object, kind, sign) in kinds {
            for stored in self.all(object).filter(mine).filter(|s| !UNDONE.contains(&text(&s.value, "status"))) {
                movements
                    .push((int(&stored.value, "created"), movement(&stored.value, kind, sign * int(&stored.value, "amount"))));
            }
        }
        movements.sort_by_key(|(created, _)| *created);
        movements.into_iter().map(|(_, movement)| movement).collect()
    }
}

/// The balance transaction of `source`, in the spec's shape; its id is derived from
/// the source's, so a list read twice names the same transactions.
fn movement(source: &Value, kind: &str, amount: i64) -> Value {
    let id = text(source, "id");
    let created = int(source, "created");
    json!({
        "id": format!("txn_{}", id.split_once('_').map_or(id, |(_, rest)| rest)),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "created": created,
        "currency": text(source, "currency"),
        "description": null,
        "exchange_rate": null,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": if kind == "transfer_refund" { "transfer_reversal" } else { kind },
        "source": id,
        "status": "available",
        "type": kind,
    })
}
