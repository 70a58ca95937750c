//! The HTTP side: one axum fallback handler, so every request (even to unknown URLs) is
//! recorded and answered by `dispatch` in the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::dispatch::{Answer, Incoming, Outcome};
use crate::errors::ApiError;
use crate::form;
use crate::state::{FakeState, new_id};

pub(crate) type Shared = Arc<Mutex<FakeState>>;

/// How long a hung request waits: longer than any client timeout in a test.
const HANG: Duration = Duration::from_secs(60 * 60);

/// Binds 127.0.0.1 on a free port and serves until the returned task is aborted.
pub(crate) async fn serve(shared: Shared) -> std::io::Result<(SocketAddr, AbortHandle)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(handle).with_state(shared);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("fake-stripe: server stopped: {error}");
        }
    });
    Ok((addr, task.abort_handle()))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request = Incoming {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: header_text(&headers, "authorization"),
        idempotency_key: header_text(&headers, "idempotency-key"),
        stripe_account: header_text(&headers, "stripe-account"),
        stripe_version: header_text(&headers, "stripe-version"),
        body: form::decode(&String::from_utf8_lossy(&body)),
    };
    let key = request.idempotency_key.clone();
    let version = request.stripe_version.clone();
    let now = chrono::Utc::now().timestamp();
    // The guard is dropped before any await: a hung request must not block the others.
    let outcome = shared.lock().unwrap_or_else(|e| e.into_inner()).process(request, now);
    let answer = match outcome {
        Outcome::Answer(answer) => answer,
        Outcome::Hang => {
            tokio::time::sleep(HANG).await;
            let error = ApiError::injected(504);
            Answer { status: 504, body: serde_json::to_vec(&error.body()).unwrap_or_default(), replayed: false }
        }
    };
    respond(answer, key, version)
}

fn respond(answer: Answer, key: Option<String>, version: Option<String>) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut add = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    add("request-id", &new_id("req_"));
    if let Some(key) = &key {
        add("idempotency-key", key);
    }
    if let Some(version) = &version {
        add("stripe-version", version);
    }
    if answer.replayed {
        add("idempotent-replayed", "true");
    }
    (status, headers, answer.body).into_response()
}
