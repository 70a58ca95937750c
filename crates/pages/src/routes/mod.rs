//! The page handlers, one module per area.

pub mod admin;
pub mod deposit;
pub mod gateway;
pub mod home;
pub mod login;
pub mod wallet;
pub mod withdraw;

use axum::extract::{FromRequestParts, Path, Query};
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

/// The `?…` parameters of a page. One that cannot be read (`?page=abc`) is an HTML
/// 400 in the path's language, not axum's plain-text rejection.
pub struct PageParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for PageParams<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let locale = parts.uri.path().split('/').nth(1).and_then(Locale::parse).unwrap_or(Locale::En);
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| PageParams(params))
            .map_err(|_| layout::error_page(locale, StatusCode::BAD_REQUEST, "error.bad_request"))
    }
}
