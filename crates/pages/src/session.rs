//! The browser session: the verified JWT in an HttpOnly, SameSite=Strict cookie
//! (Secure in production), checked on every request exactly as the API checks a
//! bearer token; and the CSRF token, a random value in a second cookie that every
//! POST form must repeat (double submit), compared in constant time.

use app::Principal;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::Pages;
use crate::i18n::Locale;
use crate::layout;

const CSRF_BYTES: usize = 32;

/// The cookies' names and flags. With `Secure`, the `__Host-` prefix also stops
/// a sibling domain from planting them.
pub struct Cookies {
    secure: bool,
    pub session: &'static str,
    pub csrf: &'static str,
}

impl Cookies {
    pub fn new(secure: bool) -> Self {
        if secure {
            Self { secure, session: "__Host-vp_session", csrf: "__Host-vp_csrf" }
        } else {
            Self { secure, session: "vp_session", csrf: "vp_csrf" }
        }
    }

    /// A `Set-Cookie` value; it lives as long as the browser session (the token's
    /// own expiry ends the sign-in sooner).
    pub fn set(&self, name: &str, value: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
    }

    pub fn clear(&self, name: &str) -> String {
        format!("{}; Max-Age=0", self.set(name, ""))
    }
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

pub fn new_csrf_token() -> String {
    let mut bytes = [0u8; CSRF_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn is_csrf_token(text: &str) -> bool {
    text.len() == CSRF_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// This request's CSRF token (the cookie's, or the one `guard` just set).
#[derive(Clone)]
pub struct CsrfToken(pub String);

/// Whoever opened the page: the CSRF token for its forms, and the signed-in
/// principal if the session cookie holds a token that still verifies.
pub struct Visitor {
    pub csrf: String,
    pub principal: Option<Principal>,
}

impl FromRequestParts<Pages> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, pages: &Pages) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<CsrfToken>().map(|t| t.0.clone()).unwrap_or_default();
        let principal = match cookie(&parts.headers, pages.cookies().session) {
            Some(token) if !token.is_empty() => pages.auth.principal(Some(&format!("Bearer {token}"))).await.ok(),
            _ => None,
        };
        Ok(Self { csrf, principal })
    }
}

/// A signed-in visitor; anyone else is sent to the login page and back.
pub struct SignedIn {
    pub csrf: String,
    pub principal: Principal,
}

impl FromRequestParts<Pages> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, pages: &Pages) -> Result<Self, Self::Rejection> {
        let Ok(visitor) = Visitor::from_request_parts(parts, pages).await;
        match visitor.principal {
            Some(principal) => Ok(Self { csrf: visitor.csrf, principal }),
            None => Err(Redirect::to(&login_url(locale_of(&parts.uri), &parts.uri)).into_response()),
        }
    }
}

/// `/login?lang=sr&next=/sr/balance`.
pub fn login_url(locale: Locale, back_to: &Uri) -> String {
    let next = back_to.path_and_query().map_or("/", |p| p.as_str());
    let next = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
    format!("/login?lang={}&next={next}", locale.code())
}

/// The language of a path (`/sr/…`), else English.
pub fn locale_of(uri: &Uri) -> Locale {
    uri.path().split('/').nth(1).and_then(Locale::parse).unwrap_or(Locale::En)
}

/// A form that carries the CSRF token in its `csrf` field.
pub trait WithCsrf {
    fn csrf(&self) -> &str;
}

/// A POST form whose `csrf` field matches the CSRF cookie; otherwise 403 and the
/// handler never runs, so nothing changes.
pub struct CsrfForm<T>(pub T);

impl<T> FromRequest<Pages> for CsrfForm<T>
where
    T: DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, pages: &Pages) -> Result<Self, Self::Rejection> {
        let locale = locale_of(request.uri());
        let expected = cookie(request.headers(), pages.cookies().csrf).map(str::to_owned).unwrap_or_default();
        let Form(form) = Form::<T>::from_request(request, pages)
            .await
            .map_err(|_| layout::error_page(locale, axum::http::StatusCode::BAD_REQUEST, "error.bad_request"))?;
        let given = form.csrf();
        if !is_csrf_token(&expected) || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            tracing::info!("form refused: missing or wrong CSRF token");
            return Err(layout::error_page(locale, axum::http::StatusCode::FORBIDDEN, "error.csrf"));
        }
        Ok(Self(form))
    }
}

impl Pages {
    pub(crate) fn cookies(&self) -> Cookies {
        Cookies::new(self.settings.secure_cookies)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cookies_are_http_only_strict_and_secure_in_production() {
        let production = Cookies::new(true);
        assert_eq!(production.set(production.session, "t"), "__Host-vp_session=t; Path=/; HttpOnly; SameSite=Strict; Secure");
        let development = Cookies::new(false);
        assert_eq!(development.clear(development.csrf), "vp_csrf=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; vp_csrf=abc"));
        assert_eq!(cookie(&headers, "vp_csrf"), Some("abc"));
        assert_eq!(cookie(&headers, "vp_session"), None);
        assert!(is_csrf_token(&new_csrf_token()));
        assert!(!is_csrf_token("abc"));
    }
}
