//! An in-process fake of AllSecure's IXOPAY Transaction API v3 for tests, so that the
//! AllSecure adapter's real HTTP code runs against the gateway's own rules and failure
//! modes: Basic auth (plain or SHA-1×10 password), `X-Signature`, strict fields,
//! debits, refunds, payouts and card registers, duplicate merchantTransactionIds
//! (3004), declines, system errors, lost answers and hangs, the status API, and signed
//! callbacks and chargebacks.
//!
//! Codemap: `server` (HTTP) → `dispatch` (order of checks, request log) → `auth` and
//! `signature` (who may call) → `validate` (fields) → `handlers` (operations, reference
//! rules, status API) → `state` (transactions per API key); `callbacks` builds signed
//! postbacks. Error codes and messages come from IXOPAY's documentation (`errors`).

mod amount;
mod auth;
mod callbacks;
mod dispatch;
mod errors;
mod handlers;
mod routes;
mod server;
mod signature;
mod state;
mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::task::AbortHandle;

pub use signature::{http_date, sign};

use routes::{BASE_PATH, Op};
use server::Shared;
use state::{FakeState, Fault, FaultKind, ReturnType};

/// The gateway account the fake plays: one API user and one connector.
#[derive(Debug, Clone)]
pub struct FakeIxopayConfig {
    /// The connector's key, the `{apiKey}` of every path.
    pub api_key: String,
    pub username: String,
    /// Accepted plain, or as SHA-1 applied ten times over hex (PHP clients).
    pub password: String,
    /// Signs callbacks, and checks requests when `signature_required`.
    pub shared_secret: String,
    /// Require Date, the exact Content-Type and a valid `X-Signature` on every request.
    pub signature_required: bool,
}

/// A callback as the gateway would POST it: the JSON body, and headers (Content-Type,
/// Date, X-Date, X-Signature) with their usual capitalisation.
pub type SignedCallback = (Vec<u8>, Vec<(String, String)>);

/// One request the fake received, with what it answered (0: never answered).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Lower-case names, in wire order.
    pub headers: Vec<(String, String)>,
    /// The JSON body; Null when empty (GET), the raw text when not JSON.
    pub body: Value,
    pub status: u16,
}

/// A running fake. Clones share the server and its state; the server stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct FakeIxopay {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    /// `None` if binding failed (see [`FakeIxopay::start`]).
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

impl std::fmt::Debug for FakeIxopay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeIxopay").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

/// Where requests go when the fake could not bind: the `.invalid` name never resolves,
/// so the test fails with this text in the client's error.
const UNBOUND_URL: &str = "http://fake-ixopay-failed-to-bind.invalid";

impl FakeIxopay {
    /// Binds 127.0.0.1:0 and serves in a tokio task until dropped. If binding fails the
    /// error goes to stderr and `base_url` points nowhere (see [`FakeIxopay::try_start`]).
    pub async fn start(config: FakeIxopayConfig) -> FakeIxopay {
        match Self::try_start(config.clone()).await {
            Ok(fake) => fake,
            Err(error) => {
                eprintln!("fake-ixopay: cannot bind 127.0.0.1:0: {error}");
                let shared = Arc::new(Mutex::new(FakeState::new(config)));
                FakeIxopay { inner: Arc::new(Inner { shared, addr: None, task: None }) }
            }
        }
    }

    /// Like [`FakeIxopay::start`], but reports a failure to bind.
    pub async fn try_start(config: FakeIxopayConfig) -> std::io::Result<FakeIxopay> {
        let shared = Arc::new(Mutex::new(FakeState::new(config)));
        let (addr, task) = server::serve(shared.clone()).await?;
        Ok(FakeIxopay { inner: Arc::new(Inner { shared, addr: Some(addr), task: Some(task) }) })
    }

    /// `http://127.0.0.1:PORT/api/v3`: with the path, so signatures cover `/api/v3/...`.
    pub fn base_url(&self) -> String {
        let root = self.inner.addr.map_or_else(|| UNBOUND_URL.to_string(), |addr| format!("http://{addr}"));
        format!("{root}{BASE_PATH}")
    }

    /// A poisoned lock only means another test thread panicked; the data is still usable.
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.inner.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Every stored transaction, oldest first, as JSON: uuid, merchantTransactionId,
    /// transactionType, amount, currency (null for a REGISTER), status ("SUCCESS"/"PENDING"/"REDIRECT"/"ERROR"),
    /// referenceUuid, withRegister, callbackUrl, purchaseId (and errorCode/errorMessage).
    pub fn transactions(&self) -> Vec<Value> {
        self.state().transactions.iter().map(state::Transaction::to_json).collect()
    }

    /// One stored transaction by uuid, in the shape of [`FakeIxopay::transactions`].
    pub fn transaction(&self, uuid: &str) -> Option<Value> {
        self.state().find(uuid).map(state::Transaction::to_json)
    }

    /// Changes a transaction's amount behind the client's back (a test of
    /// reconciliation): the status API reports `cents` from then on. False for an
    /// unknown uuid.
    pub fn set_amount(&self, uuid: &str, cents: i64) -> bool {
        let mut state = self.state();
        let Some(transaction) = state.find_mut(uuid) else { return false };
        transaction.cents = cents;
        transaction.amount = amount::format(cents);
        true
    }

    /// The next `times` requests to `op` ("debit", "refund", "payout", "register", "status") answer
    /// `http_status` with a system error body (500/502/504 → 1008, 503 → 1010, 429 → 1009,
    /// else 1000) and store nothing. Checked after credentials, API key and signature.
    pub fn fail_next(&self, op: &str, http_status: u16, times: usize) {
        self.add_fault(op, FaultKind::Fail(http_status), times);
    }

    /// The next `times` requests to `op` are processed and stored as usual, but the answer
    /// is replaced by `http_status` with a system error body: the client cannot know the
    /// transaction happened (the status API can).
    pub fn fail_after_processing(&self, op: &str, http_status: u16, times: usize) {
        self.add_fault(op, FaultKind::FailAfter(http_status), times);
    }

    /// The next `times` requests to `op` that pass the field and duplicate checks are
    /// stored as ERROR and answered as declined: HTTP 200, success false, returnType
    /// ERROR, errors [{errorCode: code, …}], e.g. 2003.
    pub fn decline_next(&self, op: &str, code: u32, times: usize) {
        self.add_fault(op, FaultKind::Decline(code), times);
    }

    /// The next `times` requests to `op` are never answered (the handler sleeps about an
    /// hour) and store nothing: a client timeout, then a retry, is the test.
    pub fn hang_next(&self, op: &str, times: usize) {
        self.add_fault(op, FaultKind::Hang, times);
    }

    fn add_fault(&self, op: &str, kind: FaultKind, times: usize) {
        let Some(op) = Op::parse(op) else {
            eprintln!("fake-ixopay: unknown operation {op:?} (debit, refund, payout, register, status): fault ignored");
            return;
        };
        if times > 0 {
            self.state().faults.push(Fault { op, kind, remaining: times });
        }
    }

    /// How the next successful transactions of `op` answer: "REDIRECT" (debit and register default),
    /// "FINISHED" (refund default; SUCCESS at once) or "PENDING" (payout default).
    pub fn set_return_type(&self, op: &str, return_type: &str) {
        let (Some(op), Some(return_type)) = (Op::parse(op), ReturnType::parse(return_type)) else {
            eprintln!(
                "fake-ixopay: set_return_type({op:?}, {return_type:?}) ignored: use debit/refund/payout/register and REDIRECT/FINISHED/PENDING"
            );
            return;
        };
        let mut state = self.state();
        match op {
            Op::Debit => state.debit_returns = return_type,
            Op::Refund => state.refund_returns = return_type,
            Op::Payout => state.payout_returns = return_type,
            Op::Register => state.register_returns = return_type,
            Op::Status => eprintln!("fake-ixopay: the status API has no return type; ignored"),
        }
    }

    /// Marks the transaction finished with `result` ("OK" → SUCCESS, "ERROR" → ERROR,
    /// "PENDING") and returns the callback body and headers exactly as the gateway would
    /// POST them to its callbackUrl (Content-Type, Date, X-Date, X-Signature over the
    /// callbackUrl's path and query with `date`). `None` for an unknown transaction or
    /// result, or one without callbackUrl.
    pub fn callback(&self, uuid: &str, result: &str, date: &str) -> Option<SignedCallback> {
        self.state().callback(uuid, result, date)
    }

    /// A signed CHARGEBACK callback for a successful debit (amount = the debit's, a new
    /// uuid, chargebackData), to the debit's callbackUrl. The chargeback is stored and
    /// holds back the debit's refundable rest. `None` unless the debit succeeded.
    pub fn chargeback(&self, debit_uuid: &str, date: &str) -> Option<SignedCallback> {
        self.state().chargeback(debit_uuid, date, chrono::Utc::now())
    }

    /// A signed CHARGEBACK-REVERSAL callback for a chargeback (the merchant won it):
    /// the amount is the chargeback's, `chargebackReversalData` names the chargeback
    /// and the debit, and the debit's refundable rest is restored. `None` for a uuid
    /// that is not a chargeback.
    pub fn chargeback_reversal(&self, chargeback_uuid: &str, date: &str) -> Option<SignedCallback> {
        self.state().chargeback_reversal(chargeback_uuid, date, chrono::Utc::now())
    }
}
