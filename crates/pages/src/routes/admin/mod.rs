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

pub use super::Paging;

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
