//! The mock gateway's hosted onboarding (KYC) page.

use app::App;
use app::marketplace_ports::OnboardingOutcome;
use axum::extract::{Query, State};
use axum::response::Redirect;
use serde::Deserialize;

use crate::error::HttpError;

#[derive(Deserialize)]
pub struct OnboardingQuery {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    link_id: String,
}

/// Completes KYC and redirects to the return URL; an expired or used link goes to
/// the refresh URL instead.
pub async fn onboard(State(app): State<App>, Query(query): Query<OnboardingQuery>) -> Result<Redirect, HttpError> {
    let target = match app.complete_mock_onboarding(&query.account_id, &query.link_id).await? {
        OnboardingOutcome::Completed { return_url } => return_url,
        OnboardingOutcome::Expired { refresh_url } => refresh_url,
    };
    Ok(Redirect::to(&target))
}
