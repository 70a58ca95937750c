//! `/{locale}/balance/withdraw`: the same use case as `POST
//! /api/v1/balance/withdraw`; its refusal is shown beside the field it is about.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::InLocale;
use crate::Pages;
use crate::forms::{CURRENCIES, FieldErrors, new_key, options};
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::session::{CsrfForm, SignedIn, WithCsrf};

#[derive(Deserialize, Default)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    idempotency_key: String,
}

impl WithCsrf for WithdrawForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "withdraw.html")]
struct WithdrawPage {
    layout: Layout,
    form: WithdrawForm,
    currencies: Vec<(String, bool)>,
    errors: FieldErrors,
}

pub async fn page(State(pages): State<Pages>, InLocale(locale): InLocale, session: SignedIn) -> Response {
    render(&pages, locale, &session, WithdrawForm::default(), FieldErrors::default()).await
}

/// The currencies the wallet holds first, then the usual ones.
async fn currencies(pages: &Pages, session: &SignedIn) -> Vec<String> {
    let held = pages.app.wallet(&session.principal, &session.principal.subject).await.unwrap_or_default();
    let mut codes: Vec<String> = held.iter().filter(|m| m.is_positive()).map(|m| m.currency().code().to_owned()).collect();
    for code in CURRENCIES {
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    codes
}

async fn render(pages: &Pages, locale: Locale, session: &SignedIn, form: WithdrawForm, errors: FieldErrors) -> Response {
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let layout = Layout::at(locale, "withdraw.title", &session.csrf, Some(&session.principal), "/balance/withdraw");
    // Always a new key: a refused withdrawal has claimed its key already, and the
    // next submit is a different request.
    let form = WithdrawForm { idempotency_key: new_key(), ..form };
    let currencies = options(currencies(pages, session).await, &form.currency);
    let page = WithdrawPage { layout, form, currencies, errors };
    layout::render_with(status, &page)
}

pub async fn submit(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    session: SignedIn,
    CsrfForm(form): CsrfForm<WithdrawForm>,
) -> Response {
    let me = &session.principal;
    let amount = form.amount.trim().replace(',', ".");
    let done = pages.app.withdraw(me, &me.subject, &amount, &form.currency, &form.description, &form.idempotency_key).await;
    match done {
        Ok(_) => Redirect::to(&format!("/{}/balance?notice=withdrawal_requested", locale.code())).into_response(),
        Err(error) => {
            let errors = FieldErrors::from_app(error, locale, "amount", &[]);
            render(&pages, locale, &session, form, errors).await
        }
    }
}
