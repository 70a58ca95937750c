//! HTTP routes beside gRPC: webhooks, the mock gateway's hosted pages and the JSON
//! wallet API.

pub mod balance;
pub mod mock_pages;
pub mod onboarding;
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
