//! What each endpoint does once its parameters passed: business rules and state changes.
//! Errors from here are stored under the idempotency key, as Stripe stores them.

mod balance_transactions;
mod checkout;
mod connect;
mod disputes;
mod payouts;
mod refunds;
mod transfers;

use serde_json::Value;

use crate::errors::ApiError;
use crate::form::Form;
use crate::routes::Route;
use crate::state::FakeState;

/// One request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// `Stripe-Account`, already known to exist.
    pub(crate) account: Option<String>,
    /// Body for POST, query for GET.
    pub(crate) form: Form,
    pub(crate) now: i64,
}

impl Ctx {
    pub(crate) fn owner(&self) -> Option<&str> {
        self.account.as_deref()
    }
}

pub(crate) fn execute(state: &mut FakeState, route: &Route, ctx: &Ctx) -> Result<Value, ApiError> {
    let value = match route {
        Route::CreateSession => state.create_session(ctx),
        Route::GetSession(id) => fetch(state, id, "checkout.session", ctx),
        Route::ExpireSession(id) => state.expire_session(id, ctx),
        Route::GetPaymentIntent(id) => fetch(state, id, "payment_intent", ctx),
        Route::CreateRefund => state.create_refund(ctx),
        Route::GetRefund(id) => fetch(state, id, "refund", ctx),
        Route::CreateAccount => state.create_account(ctx),
        Route::CreateAccountLink => state.create_account_link(ctx),
        Route::CreateTransfer => state.create_transfer(ctx),
        Route::GetTransfer(id) => fetch(state, id, "transfer", ctx),
        Route::CreateReversal(id) => state.create_reversal(id, ctx),
        Route::CreatePayout => state.create_payout(ctx),
        Route::GetPayout(id) => fetch(state, id, "payout", ctx),
        Route::CancelPayout(id) => state.cancel_payout(id, ctx),
        Route::GetBalance => Ok(state.balance(ctx.owner())),
        Route::ListBalanceTransactions => state.list_balance_transactions(ctx),
    }?;
    Ok(expand(state, value, &ctx.form.list("expand"), ctx.owner()))
}

fn fetch(state: &FakeState, id: &str, object: &str, ctx: &Ctx) -> Result<Value, ApiError> {
    state.visible(id, object, ctx.owner()).cloned().ok_or_else(|| ApiError::no_such(object, id, "id"))
}

/// `expand[]=payment_intent` (or `payment_intent.latest_charge`) replaces an id with the
/// object the caller may see; ids it cannot resolve stay ids. A list's field expands in
/// each of its items (`data.source`).
fn expand(state: &FakeState, mut value: Value, paths: &[String], owner: Option<&str>) -> Value {
    for path in paths {
        let fields: Vec<&str> = path.split('.').collect();
        value = expand_path(state, value, &fields, owner);
    }
    value
}

fn expand_path(state: &FakeState, mut value: Value, fields: &[&str], owner: Option<&str>) -> Value {
    let Some((field, rest)) = fields.split_first() else {
        return value;
    };
    if let Some(slot) = value.get_mut(*field) {
        if let Some(found) = slot.as_str().and_then(|id| state.get(id)).filter(|s| s.owner.as_deref() == owner) {
            *slot = found.value.clone();
        }
        if !rest.is_empty() && slot.is_object() {
            *slot = expand_path(state, std::mem::take(slot), rest, owner);
        }
        if let (false, Some(items)) = (rest.is_empty(), slot.as_array_mut()) {
            for item in items {
                *item = expand_path(state, std::mem::take(item), rest, owner);
            }
        }
    }
    value
}
