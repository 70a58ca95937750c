//! One request through the fake, in order: credentials, route, API key, signature,
//! injected fault, body, then the operation. Runs under the state lock, so requests are
//! serialised and a merchantTransactionId is never used twice by a race.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::RecordedRequest;
use crate::auth::{self, Signed};
use crate::errors::SystemError;
use crate::handlers;
use crate::routes::Route;
use crate::state::{FakeState, FaultKind};

/// A request as read off the wire.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Path and query, as received: what a signature covers.
    pub(crate) uri: String,
    /// Lower-case names, in wire order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as the log shows it: Null when empty, the raw text when not JSON.
    fn logged_body(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn ok(body: Value) -> Self {
        Answer { status: 200, body }
    }

    pub(crate) fn system(error: &SystemError) -> Self {
        Answer { status: error.status, body: error.to_json() }
    }
}

pub(crate) enum Outcome {
    Answer(Answer),
    /// Never answer (`hang_next`).
    Hang,
}

impl FakeState {
    /// Serves `request` and logs it; a hung request is logged with status 0.
    pub(crate) fn process(&mut self, request: Incoming, now: DateTime<Utc>) -> Outcome {
        let outcome = self.answer(&request, now);
        let status = match &outcome {
            Outcome::Answer(answer) => answer.status,
            Outcome::Hang => 0,
        };
        let body = request.logged_body();
        self.requests.push(RecordedRequest { method: request.method, uri: request.uri, headers: request.headers, body, status });
        outcome
    }

    fn answer(&mut self, request: &Incoming, now: DateTime<Utc>) -> Outcome {
        let route = match self.admit(request, now) {
            Ok(route) => route,
            Err(error) => return Outcome::Answer(Answer::system(&error)),
        };
        let early = |kind: FaultKind| !matches!(kind, FaultKind::Decline(_));
        let replace_with = match self.take_fault(route.op(), early) {
            Some(FaultKind::Hang) => return Outcome::Hang,
            Some(FaultKind::Fail(status)) => return Outcome::Answer(Answer::system(&SystemError::injected(status))),
            Some(FaultKind::FailAfter(status)) => Some(status),
            Some(FaultKind::Decline(_)) | None => None,
        };
        let answer = match &route {
            Route::Status { api_key, lookup } => handlers::status(self, api_key, lookup),
            Route::Transaction { api_key, op } => match json_object(request) {
                Ok(body) => handlers::transact(self, *op, api_key, &body, now),
                Err(error) => Answer::system(&error),
            },
        };
        // The transaction (if any) stays stored: the client just never learns of it.
        Outcome::Answer(replace_with.map_or(answer, |status| Answer::system(&SystemError::injected(status))))
    }

    /// Credentials, route, API key and signature: everything before faults and the body.
    fn admit(&self, request: &Incoming, now: DateTime<Utc>) -> Result<Route, SystemError> {
        let config = &self.config;
        auth::check_basic(request.header("authorization"), &config.username, &config.password)?;
        let route =
            Route::parse(&request.method, &request.path).ok_or_else(|| SystemError::not_found(&request.method, &request.path))?;
        if route.api_key() != config.api_key {
            return Err(SystemError::api_key());
        }
        let content_type = request.header("content-type");
        if config.signature_required {
            let signed = Signed {
                method: &request.method,
                uri: &request.uri,
                content_type,
                date: request.header("date"),
                x_date: request.header("x-date"),
                signature: request.header("x-signature"),
                body: &request.body,
            };
            auth::check_signature(&config.shared_secret, &signed, now)?;
        } else if request.method == "POST"
            && !content_type.is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"))
        {
            return Err(SystemError::body("Content-Type must be application/json"));
        }
        Ok(route)
    }
}

/// A transaction request's body must be one JSON object.
fn json_object(request: &Incoming) -> Result<Map<String, Value>, SystemError> {
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SystemError::body("The request body must be a JSON object")),
        Err(error) => Err(SystemError::body(format!("The request body is not valid JSON: {error}"))),
    }
}
