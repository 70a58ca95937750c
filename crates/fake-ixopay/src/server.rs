//! The HTTP side: one axum fallback handler, so every request (even to unknown URLs) is
//! recorded and answered by `dispatch` in the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::dispatch::{Answer, Incoming, Outcome};
use crate::errors::SystemError;
use crate::state::FakeState;

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
            eprintln!("fake-ixopay: server stopped: {error}");
        }
    });
    Ok((addr, task.abort_handle()))
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request = Incoming {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        uri: uri.path_and_query().map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string()),
        headers: headers
            .iter()
            .map(|(name, value)| (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    };
    let now = chrono::Utc::now();
    // The guard is dropped before any await: a hung request must not block the others.
    let outcome = shared.lock().unwrap_or_else(|e| e.into_inner()).process(request, now);
    let answer = match outcome {
        Outcome::Answer(answer) => answer,
        Outcome::Hang => {
            tokio::time::sleep(HANG).await;
            Answer::system(&SystemError::injected(504))
        }
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    (status, headers, answer.body.to_string()).into_response()
}
