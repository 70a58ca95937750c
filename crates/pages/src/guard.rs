//! What every page response carries: the security headers, and a CSRF cookie for
//! a browser that has none yet.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::Pages;
use crate::session::{self, CsrfToken};

pub async fn guard(State(pages): State<Pages>, mut request: Request, next: Next) -> Response {
    let cookies = pages.cookies();
    let existing = session::cookie(request.headers(), cookies.csrf).filter(|t| session::is_csrf_token(t)).map(str::to_owned);
    let token = existing.clone().unwrap_or_else(session::new_csrf_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Only on pages: a cacheable asset or a probe must not carry a cookie.
    let html = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if existing.is_none()
        && html
        && let Ok(value) = HeaderValue::from_str(&cookies.set(cookies.csrf, &token))
    {
        headers.append(header::SET_COOKIE, value);
    }
    // A page that sends its form elsewhere (the mock gateway's) set its own.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&content_security_policy(&[&pages.settings.public_url, "https:"]))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show a person's money: no shared cache keeps them.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Only our own scripts and styles, no inline ones. Forms post here, and may be
/// redirected to the origins of `form_targets` (a browser checks every hop of a
/// form's redirects): a gateway's page (our public URL for the mock, HTTPS
/// otherwise), or, from the mock gateway's pages, the platform's return URLs.
fn content_security_policy(form_targets: &[&str]) -> String {
    let targets: Vec<&str> = form_targets.iter().map(|url| origin(url)).collect();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self' {}",
        targets.join(" ")
    )
}

/// A page whose form's answer redirects to `targets` (the mock gateway's, to the
/// platform's success, cancel or return URL, which may be another origin).
pub fn sending_forms_to(mut response: Response, targets: &[&str]) -> Response {
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(targets)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or(url, |end| &url[..after_scheme + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_public_origin() {
        assert_eq!(origin("http://localhost:30051"), "http://localhost:30051");
        assert_eq!(origin("https://pay.example/base/"), "https://pay.example");
        let policy = content_security_policy(&["https://pay.example/x", "https:"]);
        assert!(policy.contains("script-src 'self';") && policy.contains("form-action 'self' https://pay.example https:"));
        assert!(!policy.contains("unsafe-inline"));
        let returns = content_security_policy(&["http://localhost:30080/orders/1?x=/y", "https://shop.example/cancel"]);
        assert!(returns.ends_with("form-action 'self' http://localhost:30080 https://shop.example"), "{returns}");
    }
}
