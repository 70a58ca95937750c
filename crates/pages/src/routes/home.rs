//! `GET /` (and `/{locale}`): what the service is; `/healthz` and `/readyz`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::InLocale;
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
}

pub async fn home(visitor: Visitor) -> Response {
    render(Locale::En, &visitor)
}

pub async fn home_in(InLocale(locale): InLocale, visitor: Visitor) -> Response {
    render(locale, &visitor)
}

fn render(locale: Locale, visitor: &Visitor) -> Response {
    let user = visitor.principal.as_ref();
    layout::render(&Home { layout: Layout::at(locale, "home.title", &visitor.csrf, user, "") })
}

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers too.
pub async fn readyz(State(pages): State<Pages>) -> (StatusCode, &'static str) {
    match pages.app.health().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
