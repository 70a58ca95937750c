//! `POST /webhooks/{gateway}`: the raw body and the gateway's signature header go
//! to the use case untouched; the signature is checked over the exact bytes.

use app::App;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::error::HttpError;

/// Stripe and the mock sign with `Stripe-Signature`.
const SIGNATURE_HEADER: &str = "stripe-signature";

pub async fn receive(
    State(app): State<App>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, HttpError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let receipt = app.receive_webhook(&gateway, &body, signature).await?;
    Ok(Json(serde_json::json!({
        "received": true,
        "duplicate": receipt.duplicate,
        "message": receipt.message,
    })))
}
