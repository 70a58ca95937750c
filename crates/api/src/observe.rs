//! One middleware for every request: a request id (taken from `x-request-id` or new),
//! a tracing span carrying it, and per-method request counts and latency.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUESTS_TOTAL: &str = "api_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "api_request_duration_seconds";
const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID_LEN_MAX: usize = 128;

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= REQUEST_ID_LEN_MAX)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // A matched route keeps the label set bounded; anything else is "unmatched".
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let is_grpc =
        request.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/grpc"));
    let path = request.uri().path().to_owned();
    let method = if is_grpc { path.clone() } else { route.clone() };
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);

    let mut response = next.run(request).instrument(span.clone()).await;

    let code = if is_grpc { grpc_code(&response) } else { response.status().as_u16().to_string() };
    // gRPC methods are labelled by their full name, except unknown ones, which would
    // let any client grow the label set.
    let method = if is_grpc && code == "UNIMPLEMENTED" { route } else { method };
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(REQUESTS_TOTAL, "method" => method.clone(), "code" => code.clone()).increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "method" => method, "code" => code.clone()).record(elapsed);
    span.in_scope(|| tracing::info!(code = %code, elapsed_ms = elapsed * 1000.0, "request finished"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Errors come as trailers-only responses with `grpc-status` in the headers; a
/// success carries it in the trailers, which this layer does not wait for.
fn grpc_code(response: &Response) -> String {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    crate::error::code_name(code).to_owned()
}
