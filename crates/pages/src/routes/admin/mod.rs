//! The operator console under `/{locale}/admin`: admins read and act; the service
//! role reads everything but every action is refused; anyone else is refused.
//! Actions go through the same use cases as the gRPC API, with the session's
//! principal.

pub mod accounts;
pub mod disputes;
pub mod events;
pub mod log;
pub mod payments;
pub mod reconciliation;
pub mod splits;

use app::ports::Page;
use app::{Principal, Role};
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::Pages;
use crate::i18n::Locale;
use crate::layout;
use crate::session::{SignedIn, locale_of};

/// Rows on a page of a console list.
pub const PAGE_SIZE: i32 = 20;

#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    pub page: Option<u32>,
}

/// A list's page from `?page=` (1 and up), and the rows it starts at.
pub struct Paging {
    number: u32,
    offset: i32,
}

impl Paging {
    pub fn of(page: Option<u32>) -> Self {
        let number = page.unwrap_or(1).max(1);
        Self { number, offset: i32::try_from(number - 1).unwrap_or(0).saturating_mul(PAGE_SIZE) }
    }

    pub fn page(&self) -> Result<Page, domain::FieldError> {
        Page::parse(PAGE_SIZE, self.offset)
    }

    /// The newer and the older page's numbers, when there are such pages.
    pub fn links(&self, shown: usize, total: i64) -> (Option<u32>, Option<u32>) {
        let seen = i64::from(self.offset) + i64::try_from(shown).unwrap_or(0);
        ((self.number > 1).then(|| self.number - 1), (seen < total).then(|| self.number + 1))
    }
}

/// A signed-in admin or service; `acts` only for an admin.
pub struct Operator {
    pub csrf: String,
    pub principal: Principal,
    pub acts: bool,
}

impl Operator {
    /// The refusal of an action by the read-only service role, given before
    /// anything is read.
    pub fn refusal(&self, locale: Locale) -> Option<Response> {
        (!self.acts).then(|| layout::error_page(locale, StatusCode::FORBIDDEN, "console.read_only"))
    }
}

impl FromRequestParts<Pages> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, pages: &Pages) -> Result<Self, Self::Rejection> {
        let session = SignedIn::from_request_parts(parts, pages).await?;
        let acts = session.principal.has_role(Role::Admin);
        if !acts && !session.principal.has_role(Role::Service) {
            return Err(layout::error_page(locale_of(&parts.uri), StatusCode::FORBIDDEN, "console.forbidden"));
        }
        Ok(Self { csrf: session.csrf, principal: session.principal, acts })
    }
}

/// `/admin`: the console in English (its language switcher offers the others).
pub async fn entry() -> Response {
    Redirect::to("/en/admin").into_response()
}

/// `/{locale}/admin/…/{id}`: the language and the object's id; an unknown
/// language is an HTML 404.
pub struct ObjectPath {
    pub locale: Locale,
    pub id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ObjectPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (code, id) = Path::<(String, String)>::from_request_parts(parts, state).await.map(|Path(p)| p).unwrap_or_default();
        match Locale::parse(&code) {
            Some(locale) => Ok(Self { locale, id }),
            None => Err(layout::error_page(Locale::En, StatusCode::NOT_FOUND, "error.not_found")),
        }
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
    }
}
