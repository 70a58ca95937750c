//! One request through the fake, in Stripe's order: key, injected fault, headers, route,
//! idempotency, parameters, then the endpoint. Runs under the state lock, so requests
//! are serialised and an idempotency key is never "in flight" twice.

use serde_json::Value;

use crate::RecordedRequest;
use crate::errors::ApiError;
use crate::form::{self, Form};
use crate::handlers::{self, Ctx};
use crate::idempotency::{Lookup, Saved};
use crate::routes::Route;
use crate::rules;
use crate::state::{FakeState, FaultKind};
use crate::validate;

/// Stripe's own limit on `Idempotency-Key`.
const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;

/// A request as read off the wire.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) authorization: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) stripe_account: Option<String>,
    pub(crate) stripe_version: Option<String>,
    pub(crate) body: Vec<(String, String)>,
}

/// A request that passed the preliminaries: where it goes, and its idempotency key (POST).
type Admitted = (Route, Option<String>);

/// An HTTP answer: status, JSON body, and whether it is a replay.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) replayed: bool,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Answer { status, body: serde_json::to_vec(body).unwrap_or_default(), replayed: false }
    }

    fn error(error: &ApiError) -> Self {
        Self::json(error.status, &error.body())
    }
}

pub(crate) enum Outcome {
    Answer(Answer),
    /// Never answer (`hang_next`).
    Hang,
}

impl FakeState {
    /// Serves `request` and logs it; a hung request is logged with status 0.
    pub(crate) fn process(&mut self, request: Incoming, now: i64) -> Outcome {
        let outcome = self.answer(&request, now);
        let status = match &outcome {
            Outcome::Answer(answer) => answer.status,
            Outcome::Hang => 0,
        };
        self.requests.push(RecordedRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            idempotency_key: request.idempotency_key,
            stripe_account: request.stripe_account,
            stripe_version: request.stripe_version,
            form: request.body,
            status,
        });
        outcome
    }

    fn answer(&mut self, request: &Incoming, now: i64) -> Outcome {
        match self.prepare(request) {
            Err(error) => Outcome::Answer(Answer::error(&error)),
            Ok(None) => Outcome::Hang,
            Ok(Some((route, key))) => Outcome::Answer(self.run(request, &route, key.as_deref(), now)),
        }
    }

    /// Everything before idempotency. `Ok(None)` means hang; `Ok(Some((route, key)))` goes on.
    fn prepare(&mut self, request: &Incoming) -> Result<Option<Admitted>, ApiError> {
        let given = request.authorization.as_deref().map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim());
        if given != Some(self.api_key.as_str()) {
            return Err(ApiError::bad_key(given));
        }
        match self.take_fault(&request.path) {
            Some(FaultKind::Hang) => return Ok(None),
            Some(FaultKind::Fail(status)) => return Err(ApiError::injected(status)),
            None => {}
        }
        if request.stripe_version.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                "Stripe-Version header is required by this fake (pin the API version, e.g. 2023-08-16).",
            ));
        }
        let route = Route::parse(&request.method, &request.path)
            .ok_or_else(|| ApiError::unrecognized_url(&request.method, &request.path))?;
        let key = match (request.method.as_str(), request.idempotency_key.as_deref()) {
            ("POST", None | Some("")) => return Err(ApiError::invalid("Idempotency-Key header is required by this fake")),
            ("POST", Some(key)) if key.chars().count() > IDEMPOTENCY_KEY_CHARS_MAX => {
                return Err(ApiError::invalid(format!(
                    "Idempotency-Key must be at most {IDEMPOTENCY_KEY_CHARS_MAX} characters (got {}).",
                    key.chars().count()
                )));
            }
            ("POST", Some(key)) => Some(key.to_string()),
            _ => None,
        };
        if let Some(account) = &request.stripe_account
            && !self.is_account(account)
        {
            return Err(ApiError::no_access(account));
        }
        Ok(Some((route, key)))
    }

    /// Idempotency, parameter checks, then the endpoint; stores what executed.
    fn run(&mut self, request: &Incoming, route: &Route, key: Option<&str>, now: i64) -> Answer {
        let account = request.stripe_account.as_deref();
        let (method, path) = (request.method.as_str(), request.path.as_str());
        if let Some(key) = key {
            match self.idempotency.lookup(account, key, method, path, &request.body) {
                Lookup::Replay(saved) => return Answer { status: saved.status, body: saved.body.clone(), replayed: true },
                Lookup::Mismatch => return Answer::error(&ApiError::idempotency_mismatch(key)),
                Lookup::Fresh => {}
            }
        }
        let pairs = if method == "GET" { form::decode(&request.query) } else { request.body.clone() };
        let form = Form(pairs);
        if let Err(error) = validate::check(route.endpoint(), &form.0).and_then(|()| rules::check(route, &form, now)) {
            return Answer::error(&error);
        }
        let ctx = Ctx { account: request.stripe_account.clone(), form, now };
        let answer = match handlers::execute(self, route, &ctx) {
            Ok(value) => Answer::json(200, &value),
            Err(error) => Answer::error(&error),
        };
        if let Some(key) = key {
            let saved = Saved::new(method, path, &request.body, answer.status, answer.body.clone());
            self.idempotency.save(account, key, saved);
        }
        answer
    }
}
