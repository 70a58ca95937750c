//! The page handlers, one module per area.

pub mod admin;
pub mod deposit;
pub mod gateway;
pub mod home;
pub mod login;
pub mod wallet;
pub mod withdraw;

use app::ports::Page;
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

/// One page of a list use case's rows, their total and the neighbour pages' links.
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub total: i64,
    pub newer: Option<u32>,
    pub older: Option<u32>,
}

/// A list's page from `?page=` (1 and up), and the rows it starts at.
pub struct Paging {
    number: u32,
    offset: i32,
    size: i32,
}

impl Paging {
    /// A console list's page.
    pub fn of(page: Option<u32>) -> Self {
        Self::sized(page, admin::PAGE_SIZE)
    }

    pub fn sized(page: Option<u32>, size: i32) -> Self {
        let number = page.unwrap_or(1).max(1);
        Self { number, offset: i32::try_from(number - 1).unwrap_or(0).saturating_mul(size), size }
    }

    pub fn page(&self) -> Result<Page, domain::FieldError> {
        Page::parse(self.size, self.offset)
    }

    /// Runs a list use case for this page.
    pub async fn load<T, F>(&self, list: impl FnOnce(Page) -> F) -> Result<Listed<T>, app::AppError>
    where
        F: std::future::Future<Output = Result<(Vec<T>, i64), app::AppError>>,
    {
        let (rows, total) = list(self.page()?).await?;
        let (newer, older) = self.links(rows.len(), total);
        Ok(Listed { rows, total, newer, older })
    }

    /// The newer and the older page's numbers, when there are such pages. Past the
    /// end, "newer" is the last page with rows, so no link leads to another empty page.
    pub fn links(&self, shown: usize, total: i64) -> (Option<u32>, Option<u32>) {
        let seen = i64::from(self.offset) + i64::try_from(shown).unwrap_or(0);
        let size = i64::from(self.size.max(1));
        let last = u32::try_from((total + size - 1) / size).unwrap_or(u32::MAX).max(1);
        ((self.number > 1).then(|| (self.number - 1).min(last)), (seen < total).then(|| self.number + 1))
    }

    /// A page number past the end of a list that has rows.
    pub fn past_end(&self, shown: usize, total: i64) -> bool {
        shown == 0 && total > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_links_to_its_neighbours_only_when_they_have_rows() {
        let first = Paging::of(None);
        assert_eq!(first.page().map(|p| (p.limit, p.offset)).ok(), Some((20, 0)));
        assert_eq!(first.links(20, 41), (None, Some(2)));
        let third = Paging::of(Some(3));
        assert_eq!(third.page().map(|p| p.offset).ok(), Some(40));
        assert_eq!(third.links(1, 41), (Some(2), None));
        assert_eq!(Paging::of(Some(0)).links(0, 0), (None, None));
        let beyond = Paging::sized(Some(99), 10);
        assert_eq!(beyond.links(0, 41), (Some(5), None), "back to the last page with rows, not to page 98");
        assert!(beyond.past_end(0, 41) && !third.past_end(1, 41) && !first.past_end(0, 0));
    }
}
