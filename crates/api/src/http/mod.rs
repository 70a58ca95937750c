//! HTTP routes beside gRPC: webhooks and the JSON wallet API. The pages people
//! open in a browser are the `pages` crate's.

pub mod balance;
pub mod openapi;
pub mod webhooks;

use axum::routing::{MethodRouter, get, post};

/// Every route of the JSON API (`/api/v1/…`). Each one is described in
/// `crates/api/openapi.json`; a test fails when a route and the document disagree.
pub fn json_routes() -> Vec<(&'static str, MethodRouter<balance::JsonState>)> {
    vec![
        ("/api/v1/openapi.json", get(openapi::document)),
        ("/api/v1/balance", get(balance::balance)),
        ("/api/v1/balance/transactions", get(balance::transactions)),
        ("/api/v1/balance/deposit", post(balance::deposit)),
        ("/api/v1/balance/withdraw", post(balance::withdraw)),
    ]
}

/// What no route answers: a gRPC call gets UNIMPLEMENTED as gRPC clients expect
/// (the pages own `GET /`, so tonic's own fallback no longer sees every request);
/// anything else a plain HTML 404.
pub async fn not_found(request: axum::extract::Request) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented("").into_http::<axum::body::Body>().into_response();
    }
    let page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head>\
                <body><h1>Not found</h1><p><a href=\"/\">Home</a></p></body></html>";
    (
        axum::http::StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, "default-src 'none'")],
        page,
    )
        .into_response()
}
