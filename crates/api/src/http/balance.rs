//! The JSON wallet API for browsers (`/api/v1/balance…`), with the same JWT as gRPC.
//! The wallet is always the caller's own (`sub` of the token).

use app::wallet::DepositInput;
use app::{App, AppError, Principal};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::auth::Authenticator;
use crate::error::HttpError;
use app::outbox::wallet_json;

/// Router state of the JSON API.
#[derive(Clone)]
pub struct JsonState {
    pub app: App,
    pub auth: Authenticator,
}

impl FromRef<JsonState> for App {
    fn from_ref(state: &JsonState) -> App {
        state.app.clone()
    }
}

/// The verified caller of a JSON request.
pub struct Caller(Principal);

impl FromRequestParts<JsonState> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &JsonState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        state
            .auth
            .principal(header)
            .await
            .map(Caller)
            .map_err(|refusal| HttpError(AppError::Unauthenticated(refusal.to_string())))
    }
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    limit: i32,
    #[serde(default)]
    offset: i32,
}

#[derive(Deserialize)]
pub struct DepositBody {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    success_url: String,
    #[serde(default)]
    cancel_url: String,
    #[serde(default)]
    gateway_name: String,
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Deserialize)]
pub struct WithdrawBody {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    idempotency_key: String,
}

/// `{"balances": [{"currency": "USD", "amount": "12.50"}]}`
pub async fn balance(State(app): State<App>, Caller(caller): Caller) -> Result<Json<serde_json::Value>, HttpError> {
    let balances = app.wallet(&caller, &caller.subject).await?;
    let balances: Vec<_> =
        balances.iter().map(|m| serde_json::json!({"currency": m.currency().code(), "amount": m.to_decimal_string()})).collect();
    Ok(Json(serde_json::json!({ "balances": balances })))
}

/// A body or query axum could not read (bad JSON, wrong content type, a field of
/// the wrong type) gets the same JSON error envelope as every other error.
fn malformed(field: &'static str, reason: String) -> HttpError {
    let reason: String = reason.chars().take(200).collect();
    HttpError(AppError::from(domain::FieldError::new(field, format!("cannot be read: {reason}"))))
}

/// `{"transactions": [...], "total": n}`, newest first.
pub async fn transactions(
    State(app): State<App>,
    Caller(caller): Caller,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Query(query) = query.map_err(|r| malformed("query", r.body_text()))?;
    let page = app::ports::Page::parse(query.limit, query.offset).map_err(AppError::from)?;
    let (transactions, total) = app.wallet_transactions(&caller, &caller.subject, page).await?;
    let transactions: Vec<_> = transactions.iter().map(wallet_json).collect();
    Ok(Json(serde_json::json!({ "transactions": transactions, "total": total })))
}

/// `{"payment_id", "session_id", "payment_url"}`: open `payment_url` to pay.
pub async fn deposit(
    State(app): State<App>,
    Caller(caller): Caller,
    body: Result<Json<DepositBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Json(body) = body.map_err(|r| malformed("body", r.body_text()))?;
    let input = DepositInput {
        user_id: caller.subject.clone(),
        amount: body.amount,
        currency: body.currency,
        gateway_name: body.gateway_name,
        success_url: body.success_url,
        cancel_url: body.cancel_url,
        idempotency_key: body.idempotency_key,
    };
    let payment = app.deposit(&caller, input).await?;
    Ok(Json(serde_json::json!({
        "payment_id": payment.id.to_string(),
        "session_id": payment.gateway_session_id,
        "payment_url": payment.checkout_url,
    })))
}

/// `{"transaction": {...}}` with status pending.
pub async fn withdraw(
    State(app): State<App>,
    Caller(caller): Caller,
    body: Result<Json<WithdrawBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Json(body) = body.map_err(|r| malformed("body", r.body_text()))?;
    let transaction =
        app.withdraw(&caller, &caller.subject, &body.amount, &body.currency, &body.description, &body.idempotency_key).await?;
    Ok(Json(serde_json::json!({ "transaction": wallet_json(&transaction) })))
}
