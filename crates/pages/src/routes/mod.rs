//! The page handlers, one module per area.

pub mod admin;
pub mod deposit;
pub mod gateway;
pub mod home;
pub mod login;
pub mod wallet;
pub mod withdraw;

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use crate::i18n::Locale;
use crate::layout;

/// The language of a `/{locale}/…` path; an unknown one is an HTML 404.
pub struct InLocale(pub Locale);

impl<S: Send + Sync> FromRequestParts<S> for InLocale {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let code = Path::<String>::from_request_parts(parts, state).await.map(|Path(code)| code).unwrap_or_default();
        Locale::parse(&code).map(InLocale).ok_or_else(|| layout::error_page(Locale::En, StatusCode::NOT_FOUND, "error.not_found"))
    }
}
