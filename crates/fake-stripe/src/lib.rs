//! An in-process fake of Stripe's HTTP API (version 2023-08-16) for tests, so that the
//! Stripe adapter's real HTTP code runs against Stripe's own failure modes: bad key,
//! unknown or malformed parameters, replayed and reused idempotency keys, declines,
//! 5xx, hangs. Parameter tables come from Stripe's OpenAPI description (`params`).
//!
//! Codemap: `server` (HTTP) → `dispatch` (order of checks, request log) → `validate` and
//! `rules` (parameters) → `handlers` (endpoints) → `state` (objects per account);
//! `idempotency` keeps answers per key; `events` builds and signs webhooks.

mod dispatch;
mod errors;
mod events;
mod form;
mod handlers;
mod idempotency;
mod params;
mod routes;
mod rules;
mod server;
mod state;
mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::task::AbortHandle;

pub use events::sign;

use server::Shared;
use state::{FakeState, Fault, FaultKind};

/// One request the fake received, with what it answered (0: never answered, `hang_next`).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path only, without the query.
    pub path: String,
    pub query: String,
    pub idempotency_key: Option<String>,
    pub stripe_account: Option<String>,
    pub stripe_version: Option<String>,
    /// Decoded body pairs, in wire order.
    pub form: Vec<(String, String)>,
    pub status: u16,
}

/// A running fake. Clones share the server and its state; the server stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct FakeStripe {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    /// `None` if binding failed (see [`FakeStripe::start`]).
    addr: Option<SocketAddr>,
    task: Option<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl std::fmt::Debug for FakeStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStripe").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

/// Where requests go when the fake could not bind: the `.invalid` name never resolves,
/// so the test fails with this text in the client's error.
const UNBOUND_URL: &str = "http://fake-stripe-failed-to-bind.invalid";

impl FakeStripe {
    /// Binds 127.0.0.1:0 and serves in a tokio task until dropped/process end. Requests
    /// must carry `Authorization: Bearer {api_key}`. If binding fails the error goes to
    /// stderr and `base_url` points nowhere (use [`FakeStripe::try_start`] to handle it).
    pub async fn start(api_key: &str) -> FakeStripe {
        match Self::try_start(api_key).await {
            Ok(fake) => fake,
            Err(error) => {
                eprintln!("fake-stripe: cannot bind 127.0.0.1:0: {error}");
                let shared = Arc::new(Mutex::new(FakeState::new(api_key)));
                FakeStripe { inner: Arc::new(Inner { shared, addr: None, task: None }) }
            }
        }
    }

    /// Like [`FakeStripe::start`], but reports a failure to bind.
    pub async fn try_start(api_key: &str) -> std::io::Result<FakeStripe> {
        let shared = Arc::new(Mutex::new(FakeState::new(api_key)));
        let (addr, task) = server::serve(shared.clone()).await?;
        Ok(FakeStripe { inner: Arc::new(Inner { shared, addr: Some(addr), task: Some(task) }) })
    }

    /// `http://127.0.0.1:PORT`, to use as the adapter's Stripe base URL.
    pub fn base_url(&self) -> String {
        self.inner.addr.map_or_else(|| UNBOUND_URL.to_string(), |addr| format!("http://{addr}"))
    }

    /// A poisoned lock only means another test thread panicked; the data is still usable.
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.inner.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `times` requests whose path starts with `path_prefix` get HTTP `status`
    /// with a Stripe error body (402 card_declined/generic_decline, 400
    /// invalid_request_error, 401 bad key, 403, 409 lock_timeout, 429 rate_limit, 5xx
    /// api_error). Checked after the API key. Injected failures are not stored under
    /// the idempotency key, so a retry with the same key runs for real.
    pub fn fail_next(&self, path_prefix: &str, status: u16, times: usize) {
        self.add_fault(path_prefix, FaultKind::Fail(status), times);
    }

    /// The next `times` matching requests are never answered (the handler sleeps about
    /// an hour) and create nothing: a client timeout, then a retry, is the test.
    pub fn hang_next(&self, path_prefix: &str, times: usize) {
        self.add_fault(path_prefix, FaultKind::Hang, times);
    }

    fn add_fault(&self, path_prefix: &str, kind: FaultKind, times: usize) {
        if times > 0 {
            self.state().faults.push(Fault { path_prefix: path_prefix.to_string(), kind, remaining: times });
        }
    }

    /// Makes created refunds start as "pending" instead of "succeeded" (default succeeded).
    pub fn refunds_start_pending(&self, pending: bool) {
        self.state().refunds_start_pending = pending;
    }

    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Every stored object with this `object` field ("checkout.session", "payment_intent",
    /// "charge", "refund", "account", "account_link", "transfer", "transfer_reversal",
    /// "payout", "dispute"), whoever owns it, oldest first.
    pub fn objects(&self, object: &str) -> Vec<Value> {
        self.state().all(object).map(|stored| stored.value.clone()).collect()
    }

    /// Any stored object by id, whoever owns it.
    pub fn object(&self, id: &str) -> Option<Value> {
        self.state().get(id).map(|stored| stored.value.clone())
    }

    /// The buyer pays the session: a succeeded PaymentIntent (amount/currency from the
    /// session, metadata and transfer_group from its payment_intent_data, latest_charge)
    /// and its Charge are created; the session becomes complete/paid with payment_intent
    /// set. Returns the updated session; a session already complete is returned as is,
    /// an unknown or expired one gives `None`.
    pub fn pay_session(&self, session_id: &str) -> Option<Value> {
        self.state().pay_session(session_id)
    }

    /// Like Stripe's `account.updated`: sets the flags and requirements.disabled_reason
    /// (details_submitted also clears the due requirements); returns the account.
    pub fn update_account(
        &self,
        account_id: &str,
        charges_enabled: bool,
        payouts_enabled: bool,
        details_submitted: bool,
        disabled_reason: Option<&str>,
    ) -> Option<Value> {
        self.state().update_account(account_id, charges_enabled, payouts_enabled, details_submitted, disabled_reason)
    }

    /// Sets a payout's status ("paid", "failed" with failure_code/failure_message,
    /// "canceled", "pending", "in_transit"); failed and canceled payouts return to the
    /// balance. `None` for an unknown payout or status.
    pub fn set_payout_status(&self, payout_id: &str, status: &str) -> Option<Value> {
        self.state().set_payout_status(payout_id, status)
    }

    /// Sets a refund's status ("succeeded", "failed" with failure_reason
    /// "lost_or_stolen_card", "canceled", "pending", "requires_action"); failed and
    /// canceled refunds give the amount back to the charge. `None` for unknown ones.
    pub fn set_refund_status(&self, refund_id: &str, status: &str) -> Option<Value> {
        self.state().set_refund_status(refund_id, status)
    }

    /// Changes an object's `amount` behind the service's back, as a gateway-side error
    /// or a dispute adjustment would; a test of reconciliation. `None` for unknown ids.
    pub fn set_amount(&self, id: &str, amount: i64) -> Option<Value> {
        let mut state = self.state();
        let object = state.get_mut(id)?;
        object["amount"] = serde_json::json!(amount);
        Some(object.clone())
    }

    /// Makes the fake forget an object, as if Stripe had never made it: it is no longer
    /// found by id, listed or counted in a balance. False for unknown ids.
    pub fn forget(&self, id: &str) -> bool {
        self.state().forget(id)
    }

    /// The buyer's bank disputes the charge of a succeeded payment intent: a dispute
    /// for the whole amount, `needs_response`, with Stripe's 15.00 fee in its balance
    /// transactions. Send it as `charge.dispute.created`. `None` for an unknown intent.
    pub fn open_dispute(&self, payment_intent_id: &str, reason: &str) -> Option<Value> {
        self.state().open_dispute(payment_intent_id, reason)
    }

    /// Closes an open dispute as "won" or "lost"; send it as `charge.dispute.closed`.
    pub fn close_dispute(&self, dispute_id: &str, outcome: &str) -> Option<Value> {
        self.state().close_dispute(dispute_id, outcome)
    }

    /// A Stripe event envelope body, created now; sign it with [`sign`].
    pub fn event(&self, event_type: &str, object: Value, account: Option<&str>) -> Vec<u8> {
        self.event_at(event_type, object, account, chrono::Utc::now().timestamp())
    }

    /// Like [`FakeStripe::event`] with an explicit `created` (for out-of-order tests).
    pub fn event_at(&self, event_type: &str, object: Value, account: Option<&str>, created: i64) -> Vec<u8> {
        events::envelope(event_type, object, account, created)
    }
}
