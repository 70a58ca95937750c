//! The mock gateway's hosted pages, as a real gateway's would look: the checkout
//! (merchant, description, amount, pay or decline, cancel) and the onboarding
//! (KYC) link. They stand in for another site, so they need no sign-in and no
//! CSRF token: the session id in the URL is what a buyer holds. The routes and
//! form fields are the ones the `demo` command and the tests use.

use crate::routes::PageParams;
use app::marketplace_ports::OnboardingOutcome;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::payment::{Payment, PaymentOutcome, PaymentStatus};
use serde::Deserialize;

use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;

#[derive(Deserialize, Default)]
pub struct CheckoutQuery {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    lang: String,
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    outcome: String,
}

#[derive(Deserialize)]
pub struct OnboardingQuery {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    link_id: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage<'a> {
    layout: Layout,
    session_id: &'a str,
    merchant: String,
    description: String,
    amount: String,
    cancel_url: &'a str,
}

/// The `lang` parameter, else the browser's language.
fn language(lang: &str, headers: &HeaderMap) -> Locale {
    Locale::parse(lang)
        .unwrap_or_else(|| Locale::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())))
}

pub async fn checkout_page(
    State(pages): State<Pages>,
    PageParams(query): PageParams<CheckoutQuery>,
    headers: HeaderMap,
) -> Response {
    let locale = language(&query.lang, &headers);
    let payment = match pages.app.mock_payment(&query.session_id).await {
        Ok(payment) => payment,
        Err(app::AppError::NotFound(_)) => return layout::error_page(locale, StatusCode::NOT_FOUND, "checkout.unknown"),
        Err(error) => return layout::app_error(locale, error),
    };
    if payment.status != PaymentStatus::Pending {
        return layout::error_page(locale, StatusCode::GONE, "checkout.finished");
    }
    let session = percent_encoding::utf8_percent_encode(&query.session_id, percent_encoding::NON_ALPHANUMERIC).to_string();
    let layout =
        Layout::new(locale, "checkout.title", "", None, |l| format!("/payment/mock?session_id={session}&lang={}", l.code()));
    let page = CheckoutPage {
        merchant: merchant(&payment, locale),
        description: payment
            .metadata
            .get("description")
            .cloned()
            .unwrap_or_else(|| locale.t(&format!("type.{}", payment.payment_type)).to_owned()),
        amount: money::format(payment.amount, locale),
        session_id: &query.session_id,
        cancel_url: &payment.cancel_url,
        layout,
    };
    layout::render(&page)
}

/// The vendor's connected account for a marketplace order, else the platform.
fn merchant(payment: &Payment, locale: Locale) -> String {
    match payment.merchant_id {
        Some(id) => format!("{} · {}", locale.t("checkout.platform"), id.simple()),
        None => locale.t("checkout.platform").to_owned(),
    }
}

/// Completes the payment through the webhook path, then 303 to the success or
/// cancel URL.
pub async fn complete(State(pages): State<Pages>, headers: HeaderMap, form: axum::Form<CompleteForm>) -> Response {
    let locale = language("", &headers);
    let outcome = match form.outcome.as_str() {
        "success" => PaymentOutcome::Succeeded,
        "failure" => PaymentOutcome::Failed,
        _ => return layout::app_error(locale, FieldError::new("outcome", "must be 'success' or 'failure'").into()),
    };
    let completed = async {
        let receipt = pages.app.complete_mock_checkout(&form.session_id, outcome).await?;
        match receipt.payment {
            Some(payment) => Ok(payment),
            None => pages.app.mock_payment(&form.session_id).await,
        }
    };
    match completed.await {
        Ok(payment) => Redirect::to(&payment.redirect_url()).into_response(),
        Err(error) => layout::app_error(locale, error),
    }
}

/// Completes KYC and redirects to the return URL; an expired or used link goes
/// to the refresh URL instead; a link that is not one is an HTML error page.
pub async fn onboard(State(pages): State<Pages>, PageParams(query): PageParams<OnboardingQuery>, headers: HeaderMap) -> Response {
    match pages.app.complete_mock_onboarding(&query.account_id, &query.link_id).await {
        Ok(OnboardingOutcome::Completed { return_url }) => Redirect::to(&return_url).into_response(),
        Ok(OnboardingOutcome::Expired { refresh_url }) => Redirect::to(&refresh_url).into_response(),
        Err(error) => {
            let locale = language("", &headers);
            let status = api::error::http_status(api::error::to_status(error).code());
            layout::error_page(locale, status, "onboarding.invalid")
        }
    }
}
