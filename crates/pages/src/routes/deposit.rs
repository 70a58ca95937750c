//! `/{locale}/balance/deposit`: the top-up form, created through the same use
//! case as `POST /api/v1/balance/deposit`, then the gateway's page; and the page
//! the gateway sends the browser back to.

use app::wallet::DepositInput;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::payment::PaymentStatus;
use serde::Deserialize;

use super::{InLocale, PageParams, gateway};
use crate::Pages;
use crate::forms::{CURRENCIES, FieldErrors, new_key, options};
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::session::{CsrfForm, SignedIn, Visitor, WithCsrf};

const PRESETS: [&str; 4] = ["10", "25", "50", "100"];
/// Seconds between two looks at a pending payment.
const REFRESH_S: u32 = 2;

#[derive(Deserialize, Default)]
pub struct DepositQuery {
    #[serde(default)]
    error: String,
    #[serde(default)]
    session_id: String,
}

/// Why the gateway sent the browser back: the element's id and the text's key.
type Notice = Option<(&'static str, &'static str)>;

const FAILED: Notice = Some(("payment-failed", "deposit.failed"));
const CANCELLED: Notice = Some(("payment-cancelled", "deposit.cancelled"));

#[derive(Deserialize, Default)]
pub struct DepositForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    idempotency_key: String,
}

impl WithCsrf for DepositForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "deposit.html")]
struct DepositPage {
    layout: Layout,
    notice: Notice,
    form: DepositForm,
    presets: Vec<(String, bool)>,
    currencies: Vec<(String, bool)>,
    gateways: Vec<(String, bool)>,
    errors: FieldErrors,
}

pub async fn page(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<DepositQuery>,
    session: SignedIn,
) -> Response {
    let form = DepositForm { preset: PRESETS[1].into(), currency: CURRENCIES[0].into(), ..DepositForm::default() };
    let notice = match query.error.as_str() {
        "payment_failed" => FAILED,
        "payment_cancelled" => cancelled_or_declined(&pages, &session, &query.session_id).await,
        _ => None,
    };
    render(&pages, locale, &session, form, notice, FieldErrors::default())
}

/// The gateway sends the browser to the cancel URL both when the buyer went back
/// and when the payment was declined: the payment's status tells them apart.
async fn cancelled_or_declined(pages: &Pages, session: &SignedIn, session_id: &str) -> Notice {
    match pages.app.payment_by_session(&session.principal, session_id).await {
        Ok(payment) if payment.status == PaymentStatus::Failed => FAILED,
        _ => CANCELLED,
    }
}

fn render(pages: &Pages, locale: Locale, session: &SignedIn, form: DepositForm, notice: Notice, errors: FieldErrors) -> Response {
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let layout = Layout::at(locale, "deposit.title", &session.csrf, Some(&session.principal), "/balance/deposit");
    // A refusal of a field wrote nothing: the corrected form is a new request. Any
    // other failure (the gateway did not answer) is retried with the same key, so
    // it finds the deposit already written.
    let retry = errors.get(crate::forms::FORM).is_some() && !form.idempotency_key.is_empty();
    let key = if retry { form.idempotency_key.clone() } else { new_key() };
    let form = DepositForm { idempotency_key: key, ..form };
    let page = DepositPage {
        layout,
        notice,
        presets: options(PRESETS, &form.preset),
        currencies: options(CURRENCIES, &form.currency),
        gateways: options(pages.app.gateway_names(), &form.gateway),
        errors,
        form,
    };
    layout::render_with(status, &page)
}

pub async fn submit(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    session: SignedIn,
    CsrfForm(form): CsrfForm<DepositForm>,
) -> Response {
    let base = format!("{}/{}/balance/deposit", pages.settings.public_url.trim_end_matches('/'), locale.code());
    let amount = if form.amount.trim().is_empty() { form.preset.clone() } else { form.amount.trim().replace(',', ".") };
    let input = DepositInput {
        user_id: session.principal.subject.clone(),
        amount,
        currency: form.currency.clone(),
        gateway_name: form.gateway.clone(),
        success_url: format!("{base}/success?session_id={}", domain::validation::CHECKOUT_SESSION_ID_PLACEHOLDER),
        cancel_url: format!("{base}?error=payment_cancelled&session_id={}", domain::validation::CHECKOUT_SESSION_ID_PLACEHOLDER),
        idempotency_key: form.idempotency_key.clone(),
    };
    match pages.app.deposit(&session.principal, input).await {
        Ok(payment) => match payment.checkout_url {
            Some(url) => Redirect::to(&gateway::in_language(&url, &pages.settings.public_url, locale)).into_response(),
            None => layout::error_page(locale, StatusCode::SERVICE_UNAVAILABLE, "error.unavailable"),
        },
        Err(error) => {
            let errors = FieldErrors::from_app(error, locale, "amount", &[("gateway_name", "gateway")]);
            render(&pages, locale, &session, form, None, errors)
        }
    }
}

#[derive(Deserialize, Default)]
pub struct SuccessQuery {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    back: String,
}

#[derive(Template)]
#[template(path = "success.html")]
struct SuccessPage {
    layout: Layout,
    state: &'static str,
    amount: String,
    /// Where the page looks again (pending) or goes on to (returning).
    again: String,
    refresh: u32,
}

/// Credited, pending (the page refreshes itself) or failed. A browser coming back
/// from another site's checkout has no session cookie on that first request
/// (SameSite=Strict): it gets a page that follows a link to itself, a same-site
/// navigation that carries the cookie.
pub async fn success(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<SuccessQuery>,
    visitor: Visitor,
    uri: axum::http::Uri,
) -> Response {
    let session = percent_encoding::utf8_percent_encode(&query.session_id, percent_encoding::NON_ALPHANUMERIC).to_string();
    let here = |l: Locale| format!("/{}/balance/deposit/success?session_id={session}", l.code());
    let layout = Layout::new(locale, "success.title", &visitor.csrf, visitor.principal.as_ref(), here);
    let Some(principal) = visitor.principal else {
        if query.back.is_empty() {
            let again = format!("{}&back=1", here(locale));
            return layout::render(&SuccessPage { layout, state: "returning", amount: String::new(), again, refresh: 0 });
        }
        return Redirect::to(&crate::session::login_url(locale, &uri)).into_response();
    };
    let payment = match pages.app.payment_by_session(&principal, &query.session_id).await {
        Ok(payment) => payment,
        Err(error) => return layout::app_error(locale, error),
    };
    let state = match payment.status {
        PaymentStatus::Succeeded | PaymentStatus::Refunded => "done",
        PaymentStatus::Pending | PaymentStatus::Processing => "pending",
        PaymentStatus::Failed | PaymentStatus::Cancelled => "failed",
    };
    let amount = money::format(payment.amount, locale);
    layout::render(&SuccessPage { layout, state, amount, again: here(locale), refresh: REFRESH_S })
}
