//! The mock gateway's hosted checkout page (SPEC §5).

use app::App;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::payment::{PaymentOutcome, PaymentStatus};
use serde::Deserialize;

use crate::error::HttpError;

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    session_id: String,
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    outcome: String,
}

pub async fn checkout_page(State(app): State<App>, Query(query): Query<PageQuery>) -> Result<Html<String>, HttpError> {
    let payment = app.mock_payment(&query.session_id).await?;
    let session = escape(&query.session_id);
    let amount = escape(&payment.amount.to_string());
    let body = if payment.status == PaymentStatus::Pending {
        format!(
            r#"<form method="post" action="/payment/mock/complete">
  <input type="hidden" name="session_id" value="{session}">
  <button type="submit" name="outcome" value="success">Simulate successful payment</button>
  <button type="submit" name="outcome" value="failure">Simulate failed payment</button>
</form>"#
        )
    } else {
        format!("<p>This checkout is already {}.</p>", payment.status)
    };
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock checkout</title></head>
<body>
<h1>Mock checkout</h1>
<p>Amount: <strong>{amount}</strong></p>
<p>Session: <code>{session}</code></p>
{body}
</body></html>"#
    )))
}

/// Completes the payment through the webhook path, then 303 to success or cancel URL.
pub async fn complete(State(app): State<App>, Form(form): Form<CompleteForm>) -> Result<Response, HttpError> {
    let outcome = match form.outcome.as_str() {
        "success" => PaymentOutcome::Succeeded,
        "failure" => PaymentOutcome::Failed,
        _ => return Err(HttpError(FieldError::new("outcome", "must be 'success' or 'failure'").into())),
    };
    let receipt = app.complete_mock_checkout(&form.session_id, outcome).await?;
    let payment = match receipt.payment {
        Some(payment) => payment,
        None => app.mock_payment(&form.session_id).await?,
    };
    Ok(Redirect::to(&payment.redirect_url()).into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
