//! `SERVER_WRITE_TIMEOUT` as a per-request deadline. A request cut off here drops its
//! work: an open database transaction rolls back, and a checkout whose gateway call
//! was cut off is finished by the client's retry with the same idempotency key.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let is_grpc =
        request.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/grpc"));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) if is_grpc => tonic::Status::deadline_exceeded(format!("the request took longer than {}s", limit.as_secs_f64()))
            .into_http::<axum::body::Body>()
            .into_response(),
        Err(_) => (StatusCode::GATEWAY_TIMEOUT, "the request took too long").into_response(),
    }
}
