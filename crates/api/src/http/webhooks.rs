//! `POST /webhooks/{gateway}`: the raw body, the headers and our path go to the use
//! case untouched; the signature is checked over the exact bytes.

use app::App;
use app::ports::WebhookDelivery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::HttpError;

/// The body of a webhook's answer: gateways read only the status, but AllSecure
/// expects the text `OK`.
pub async fn receive(
    State(app): State<App>,
    Path(gateway): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let headers: Vec<(String, String)> =
        headers.iter().filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))).collect();
    let path_and_query = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let delivery = WebhookDelivery { payload: &body, headers: &headers, path_and_query: &path_and_query };
    let receipt = app.receive_webhook(&gateway, &delivery).await?;
    if gateway == "allsecure" {
        return Ok("OK".into_response());
    }
    Ok(Json(serde_json::json!({
        "received": true,
        "duplicate": receipt.duplicate,
        "message": receipt.message,
    }))
    .into_response())
}
