//! Sign-in with the JWT the platform issued (verified like the API's bearer
//! tokens), "sign in as" in development, and sign-out.

use crate::routes::PageParams;
use app::Role;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::session::{CsrfForm, Visitor, WithCsrf};

/// The roles "sign in as" offers, with their text keys.
const ROLES: [(&str, &str); 4] =
    [("user", "role.user"), ("merchant", "role.merchant"), ("admin", "role.admin"), ("service", "role.service")];

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    next: &'a str,
    /// The text key of what is wrong with the token.
    error: Option<String>,
    dev: bool,
    roles: [(&'static str, &'static str); 4],
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct DevForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    user_id: String,
    role_user: Option<String>,
    role_merchant: Option<String>,
    role_admin: Option<String>,
    role_service: Option<String>,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

impl WithCsrf for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl WithCsrf for DevForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl WithCsrf for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn language(code: &str) -> Locale {
    Locale::parse(code).unwrap_or(Locale::En)
}

/// Only a path of this site: never another origin (`//host`, `/\host`, or a tab
/// a browser drops to make `//host`).
fn safe_next(next: &str, locale: Locale) -> String {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.chars().any(char::is_control);
    if local { next.to_owned() } else { format!("/{}/balance", locale.code()) }
}

fn login_page(pages: &Pages, visitor: &Visitor, locale: Locale, next: &str, error: Option<String>) -> Response {
    let user = visitor.principal.as_ref();
    let next = safe_next(next, locale);
    let encoded = percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC).to_string();
    let layout = Layout::new(locale, "login.title", &visitor.csrf, user, |l| format!("/login?lang={}&next={encoded}", l.code()));
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let page = LoginPage { layout, next: &next, error, dev: pages.settings.dev_signer.is_some(), roles: ROLES };
    layout::render_with(status, &page)
}

pub async fn page(State(pages): State<Pages>, visitor: Visitor, PageParams(query): PageParams<LoginQuery>) -> Response {
    login_page(&pages, &visitor, language(&query.lang), &query.next, None)
}

pub async fn sign_in(State(pages): State<Pages>, visitor: Visitor, CsrfForm(form): CsrfForm<LoginForm>) -> Response {
    let locale = language(&form.lang);
    let token = form.token.trim();
    match verify(&pages, token).await {
        Ok(principal) => {
            tracing::info!(subject = %principal.subject, "signed in to the pages");
            signed_in(&pages, token, &safe_next(&form.next, locale))
        }
        Err(problem) => login_page(&pages, &visitor, locale, &form.next, Some(problem)),
    }
}

/// The token's principal, verified as the API verifies it, with at least one
/// role; else the text key of what is wrong, for the page to say in its language.
async fn verify(pages: &Pages, token: &str) -> Result<app::Principal, String> {
    match pages.auth.principal(Some(&format!("Bearer {token}"))).await {
        Ok(principal) if principal.roles.is_empty() => Err("login.error.no_role".into()),
        Ok(principal) => Ok(principal),
        Err(refusal) => Err(format!("login.error.{}", refusal.problem.as_str())),
    }
}

/// Development only: a token for any user id and roles, signed with the
/// service's own secret, then verified like any other.
pub async fn sign_in_as(State(pages): State<Pages>, visitor: Visitor, CsrfForm(form): CsrfForm<DevForm>) -> Response {
    let locale = language(&form.lang);
    let Some(signer) = &pages.settings.dev_signer else {
        return layout::error_page(locale, StatusCode::NOT_FOUND, "error.not_found");
    };
    let chosen = [&form.role_user, &form.role_merchant, &form.role_admin, &form.role_service];
    let roles: Vec<Role> =
        ROLES.iter().zip(chosen).filter(|(_, on)| on.is_some()).filter_map(|((name, _), _)| Role::parse(name)).collect();
    let token = api::NewToken {
        subject: form.user_id.trim(),
        roles: &roles,
        ttl: signer.ttl,
        issuer: signer.issuer.as_deref(),
        audience: signer.audience.as_deref(),
        key_id: None,
    };
    let minted = api::mint(&token, jsonwebtoken::Algorithm::HS256, &jsonwebtoken::EncodingKey::from_secret(&signer.secret));
    let verified = match minted {
        Ok(minted) => verify(&pages, &minted).await.map(|_| minted),
        Err(error) => {
            tracing::warn!(%error, "a development token could not be signed");
            Err("login.error.malformed".into())
        }
    };
    match verified {
        Ok(minted) => signed_in(&pages, &minted, &safe_next(&form.next, locale)),
        Err(problem) => login_page(&pages, &visitor, locale, &form.next, Some(problem)),
    }
}

fn signed_in(pages: &Pages, token: &str, next: &str) -> Response {
    let cookies = pages.cookies();
    ([(header::SET_COOKIE, cookies.set(cookies.session, token))], Redirect::to(next)).into_response()
}

pub async fn sign_out(State(pages): State<Pages>, CsrfForm(form): CsrfForm<LogoutForm>) -> Response {
    let cookies = pages.cookies();
    let home = format!("/{}", language(&form.lang).code());
    ([(header::SET_COOKIE, cookies.clear(cookies.session))], Redirect::to(&home)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_problem_is_said_in_every_language() {
        let keys = api::TokenProblem::ALL.iter().map(|p| format!("login.error.{}", p.as_str()));
        crate::i18n::assert_translated(&keys.chain(["login.error.no_role".to_owned()]).collect::<Vec<_>>());
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/sr/balance?page=2", Locale::Sr), "/sr/balance?page=2");
        for foreign in ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", ""] {
            assert_eq!(safe_next(foreign, Locale::Ru), "/ru/balance", "{foreign}");
        }
    }
}
