//! The mock gateway's hosted pages, as a real gateway's would look: the checkout
//! (merchant, description, amount, pay or decline, cancel) and the onboarding
//! (KYC: who is onboarding, complete, cancel). They stand in for another site, so
//! they need no sign-in and no CSRF token: the session id or the single-use link id
//! in the form is what the buyer or vendor holds, and another site cannot know it.
//! Showing a page changes nothing; only its POST does. The routes and form fields
//! are the ones the `demo` command and the tests use.

use crate::routes::PageParams;
use app::MockOnboarding;
use app::marketplace_ports::OnboardingOutcome;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::payment::{PaymentOutcome, PaymentStatus, PaymentType};
use serde::Deserialize;

use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::{Pages, guard};

/// The mock checkout page's path, which the mock gateway's session URLs point to.
const CHECKOUT_PATH: &str = "/payment/mock";

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
pub struct OnboardingParams {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    link_id: String,
    #[serde(default)]
    lang: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage<'a> {
    layout: Layout,
    session_id: &'a str,
    merchant: String,
    description: String,
    amount: String,
    cancel_url: String,
    cancel_key: &'static str,
}

#[derive(Template)]
#[template(path = "onboarding.html")]
struct OnboardingPage {
    layout: Layout,
    /// The platform the vendor onboards with (the page's title names it).
    merchant: &'static str,
    vendor: Option<String>,
    email: String,
    business_key: String,
    country: String,
    account_id: String,
    link_id: String,
    refresh_url: String,
}

/// The `lang` parameter, else the browser's language.
fn language(lang: &str, headers: &HeaderMap) -> Locale {
    Locale::parse(lang)
        .unwrap_or_else(|| Locale::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())))
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A gateway page URL with the page's language added, when it is this service's
/// mock checkout: the buyer sees it in the language of the page they came from.
/// Any other gateway's URL is returned as it is.
pub fn in_language(url: &str, public_url: &str, locale: Locale) -> String {
    let ours = format!("{}{CHECKOUT_PATH}?", public_url.trim_end_matches('/'));
    if url.starts_with(&ours) { format!("{url}&lang={}", locale.code()) } else { url.to_owned() }
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
    let merchant = match pages.app.mock_merchant_name(&payment).await {
        Ok(name) => name.unwrap_or_else(|| locale.t("checkout.platform").to_owned()),
        Err(error) => return layout::app_error(locale, error),
    };
    let session = encode(&query.session_id);
    let layout =
        Layout::new(locale, "checkout.title", "", None, |l| format!("{CHECKOUT_PATH}?session_id={session}&lang={}", l.code()));
    let page = CheckoutPage {
        merchant,
        description: payment
            .metadata
            .get("description")
            .cloned()
            .unwrap_or_else(|| locale.t(&format!("type.{}", payment.payment_type)).to_owned()),
        amount: money::format(payment.amount, locale),
        session_id: &query.session_id,
        // A top-up was started from the wallet, every other payment from a shop.
        cancel_key: if payment.payment_type == PaymentType::BalanceDeposit {
            "checkout.cancel_wallet"
        } else {
            "checkout.cancel"
        },
        cancel_url: payment.redirect_url(),
        layout,
    };
    guard::sending_forms_to(layout::render(&page), &[&payment.success_url, &payment.cancel_url])
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

/// The onboarding page: who is onboarding, a button that completes it, a cancel
/// link to the refresh URL. An unknown link is a 404 page, a used or expired one
/// a 410 page; a link that is not one (not a UUID) a 400 page.
pub async fn onboarding_page(
    State(pages): State<Pages>,
    PageParams(query): PageParams<OnboardingParams>,
    headers: HeaderMap,
) -> Response {
    let locale = language(&query.lang, &headers);
    let (account, link) = match pages.app.mock_onboarding_link(&query.account_id, &query.link_id).await {
        Ok(MockOnboarding::Open { account, link }) => (account, link),
        Ok(MockOnboarding::Finished) => return layout::error_page(locale, StatusCode::GONE, "onboarding.finished"),
        Err(app::AppError::NotFound(_)) => return layout::error_page(locale, StatusCode::NOT_FOUND, "onboarding.unknown"),
        Err(error) => return invalid_link(locale, error),
    };
    let (account_id, link_id) = (account.id.to_string(), link.id.to_string());
    let layout = Layout::new(locale, "onboarding.title", "", None, |l| {
        format!("/connect/mock/onboarding?account_id={account_id}&link_id={link_id}&lang={}", l.code())
    });
    let targets = [link.return_url.clone(), link.refresh_url.clone()];
    let page = OnboardingPage {
        layout,
        merchant: locale.t("checkout.platform"),
        vendor: account.display_name().map(str::to_owned),
        email: account.email.clone(),
        business_key: format!("business.{}", account.business_type.as_str()),
        country: account.country.clone(),
        account_id,
        link_id,
        refresh_url: link.refresh_url,
    };
    guard::sending_forms_to(layout::render(&page), &[&targets[0], &targets[1]])
}

/// The onboarding page's form: completes KYC and 303 to the return URL; a link
/// used or expired meanwhile goes to the refresh URL instead.
pub async fn onboard(State(pages): State<Pages>, headers: HeaderMap, form: axum::Form<OnboardingParams>) -> Response {
    match pages.app.complete_mock_onboarding(&form.account_id, &form.link_id).await {
        Ok(OnboardingOutcome::Completed { return_url }) => Redirect::to(&return_url).into_response(),
        Ok(OnboardingOutcome::Expired { refresh_url }) => Redirect::to(&refresh_url).into_response(),
        Err(error) => invalid_link(language(&form.lang, &headers), error),
    }
}

fn invalid_link(locale: Locale, error: app::AppError) -> Response {
    let status = api::error::http_status(api::error::to_status(error).code());
    layout::error_page(locale, status, "onboarding.invalid")
}
