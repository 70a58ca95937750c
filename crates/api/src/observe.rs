//! One middleware for every request: a request id (taken from `x-request-id` or new),
//! a tracing span carrying it, and per-method request counts and latency.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUESTS_TOTAL: &str = "api_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "api_request_duration_seconds";
const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID_LEN_MAX: usize = 128;

/// Full names of the gRPC methods this server has (`/payment.v1.PaymentService/GetPayment`),
/// from the proto descriptors: only these become metric labels.
pub type KnownMethods = Arc<HashSet<String>>;

pub fn known_methods(descriptor_sets: &[&[u8]]) -> Result<KnownMethods, prost::DecodeError> {
    let mut methods = HashSet::new();
    for bytes in descriptor_sets {
        let set = <prost_types::FileDescriptorSet as prost::Message>::decode(*bytes)?;
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    Ok(Arc::new(methods))
}

/// The HELP text of this layer's metrics (the recorder keeps it for every scrape).
pub fn describe_metrics() {
    metrics::describe_counter!(REQUESTS_TOTAL, "Requests answered, by gRPC method or HTTP route and by status code.");
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response headers, by method or route and status code."
    );
}

pub async fn observe(State(known): State<KnownMethods>, request: Request, next: Next) -> Response {
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
    // Anything a client can make up (unknown gRPC paths) collapses into its route
    // pattern, so no caller can grow the label set.
    let method = if is_grpc && known.contains(&path) { path.clone() } else { route };
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);

    let mut response = next.run(request).instrument(span.clone()).await;

    let code = if is_grpc { grpc_code(&response) } else { response.status().as_u16().to_string() };
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
