//! The one stylesheet and the one script, compiled into the binary: `cargo run`
//! serves them with no build step.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");
/// They change only with the binary; a day keeps a deploy visible soon.
const CACHE: &str = "public, max-age=86400";

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], CSS)
}

pub async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], JS)
}
