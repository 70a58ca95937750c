//! The shell every page shares (language, title, who is signed in, the language
//! switcher, the CSRF token of the header's sign-out form), rendering, and the
//! HTML error pages.

use app::{AppError, Principal};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::Locale;

pub struct LanguageLink {
    pub name: &'static str,
    pub lang: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct Layout {
    pub locale: Locale,
    pub title: &'static str,
    pub user: Option<String>,
    /// The header links to the operator console (admins and services).
    pub console: bool,
    pub csrf: String,
    pub languages: Vec<LanguageLink>,
}

impl Layout {
    /// `href` gives the same page in another language.
    pub fn new(locale: Locale, title_key: &str, csrf: &str, user: Option<&Principal>, href: impl Fn(Locale) -> String) -> Self {
        let languages = Locale::ALL
            .into_iter()
            .map(|l| LanguageLink { name: l.name(), lang: l.html_lang(), href: href(l), current: l == locale })
            .collect();
        Self {
            locale,
            title: locale.t(title_key),
            user: user.map(|p| p.subject.clone()),
            console: user.is_some_and(Principal::is_privileged),
            csrf: csrf.to_owned(),
            languages,
        }
    }

    /// A page at `/{locale}{rest}`.
    pub fn at(locale: Locale, title_key: &str, csrf: &str, user: Option<&Principal>, rest: &str) -> Self {
        Self::new(locale, title_key, csrf, user, |l| format!("/{}{rest}", l.code()))
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.locale.t(key)
    }

    pub fn code(&self) -> &'static str {
        self.locale.code()
    }
}

pub fn render(template: &impl Template) -> Response {
    render_with(StatusCode::OK, template)
}

pub fn render_with(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page cannot be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// A page that says what went wrong, with the status it deserves.
pub fn error_page(locale: Locale, status: StatusCode, message_key: &str) -> Response {
    error_text(locale, status, locale.t(message_key).to_owned())
}

fn error_text(locale: Locale, status: StatusCode, message: String) -> Response {
    let layout = Layout::new(locale, "error.title", "", None, |l| format!("/{}", l.code()));
    render_with(status, &ErrorPage { layout, status: status.as_u16(), message })
}

/// A use case's refusal as a page, with the API's status and (for a bad field or
/// a refused operation) the API's message.
pub fn app_error(locale: Locale, error: AppError) -> Response {
    let key = crate::forms::problem_key(&error);
    let status = api::error::to_status(error);
    let http = api::error::http_status(status.code());
    match http {
        StatusCode::NOT_FOUND => error_page(locale, http, "error.not_found"),
        StatusCode::SERVICE_UNAVAILABLE => error_page(locale, http, "error.unavailable"),
        StatusCode::INTERNAL_SERVER_ERROR => error_page(locale, http, "error.title"),
        _ => error_text(locale, http, crate::forms::said(locale, key, status.message().to_owned())),
    }
}
