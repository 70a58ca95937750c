//! `GET /api/v1/openapi.json`: the hand-written OpenAPI 3.1 description of the JSON
//! API, embedded in the binary. A test holds it to the routes of `json_routes`.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as written in `crates/api/openapi.json`.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
