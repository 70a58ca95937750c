//! Who may call: HTTP Basic auth with the API user (password plain, or SHA-1 applied ten
//! times as IXOPAY's PHP clients send it), and, when the connector requires it, a valid
//! `X-Signature` over a fresh Date.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};

use crate::errors::SystemError;
use crate::signature::{self, CONTENT_TYPE, DATE_SKEW_S};

/// SHA-1 ten times, each round over the previous round's lowercase hex (PHP `sha1()`).
pub(crate) fn hashed_password(password: &str) -> String {
    (0..10).fold(password.to_string(), |text, _| hex::encode(Sha1::digest(text.as_bytes())))
}

/// The `Authorization: Basic …` header must name `username` with either password form.
pub(crate) fn check_basic(authorization: Option<&str>, username: &str, password: &str) -> Result<(), SystemError> {
    let Some(header) = authorization else {
        return Err(SystemError::credentials(true));
    };
    // The scheme name is case-insensitive (RFC 7617).
    let decoded = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some((user, given)) = decoded.as_deref().and_then(|text| text.split_once(':')) else {
        return Err(SystemError::credentials(false));
    };
    if user == username && (given == password || given == hashed_password(password)) {
        Ok(())
    } else {
        Err(SystemError::credentials(false))
    }
}

/// What a signature check looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a str,
    /// Path and query, exactly as received.
    pub(crate) uri: &'a str,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) date: Option<&'a str>,
    pub(crate) x_date: Option<&'a str>,
    pub(crate) signature: Option<&'a str>,
    pub(crate) body: &'a [u8],
}

/// Date (or X-Date) within 5 minutes, the exact Content-Type on POST, and an
/// `X-Signature` (SHA-512 or MD5 body hash) made with one of the dates sent.
pub(crate) fn check_signature(shared_secret: &str, request: &Signed<'_>, now: DateTime<Utc>) -> Result<(), SystemError> {
    let dates: Vec<&str> = [request.x_date, request.date].into_iter().flatten().collect();
    if dates.is_empty() {
        return Err(SystemError::signature("Date header missing: a signed request needs Date (or X-Date)"));
    }
    let fresh: Vec<&str> = dates
        .iter()
        .copied()
        .filter(|date| signature::parse_http_date(date).is_some_and(|at| (at - now).num_seconds().abs() <= DATE_SKEW_S))
        .collect();
    if fresh.is_empty() {
        return Err(SystemError::signature(format!(
            "Date header invalid or more than {} minutes from the server time: {}",
            DATE_SKEW_S / 60,
            dates.join(" / ")
        )));
    }
    let content_type = request.content_type.unwrap_or_default();
    if request.method == "POST" && content_type != CONTENT_TYPE {
        return Err(SystemError::signature(format!(
            "Content-Type must be exactly '{CONTENT_TYPE}' on signed requests (got '{content_type}')"
        )));
    }
    let Some(given) = request.signature else {
        return Err(SystemError::signature("X-Signature header missing"));
    };
    let valid = fresh.iter().any(|date| {
        signature::verify(shared_secret, given.trim(), request.method, request.body, content_type, date, request.uri)
    });
    if valid { Ok(()) } else { Err(SystemError::signature("Invalid signature")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn plain_and_hashed_passwords_pass_and_others_do_not() {
        let hashed = hashed_password("secret");
        assert_eq!(hashed.len(), 40);
        assert!(check_basic(Some(&basic("api", "secret")), "api", "secret").is_ok());
        assert!(check_basic(Some(&basic("api", &hashed)), "api", "secret").is_ok());
        assert_eq!(check_basic(Some(&basic("api", "wrong")), "api", "secret").map_err(|e| e.status), Err(401));
        assert!(check_basic(Some(&basic("other", "secret")), "api", "secret").is_err());
        assert!(check_basic(Some("Bearer x"), "api", "secret").is_err());
        assert!(check_basic(None, "api", "secret").is_err());
    }

    #[test]
    fn the_hash_is_sha1_ten_times_over_hex() {
        let once = hex::encode(Sha1::digest(b"secret"));
        let twice = hex::encode(Sha1::digest(once.as_bytes()));
        assert_eq!(once, "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4");
        assert!(hashed_password("secret") != twice);
        assert_eq!((0..8).fold(twice, |t, _| hex::encode(Sha1::digest(t.as_bytes()))), hashed_password("secret"));
    }

    #[test]
    fn a_signature_needs_a_fresh_date_the_exact_content_type_and_the_right_uri() {
        let now = Utc::now();
        let date = signature::http_date(now);
        let uri = "/api/v3/transaction/key/debit";
        let good = sign("s", "POST", b"{}", CONTENT_TYPE, &date, uri);
        let request = Signed {
            method: "POST",
            uri,
            content_type: Some(CONTENT_TYPE),
            date: Some(&date),
            x_date: Some(&date),
            signature: Some(&good),
            body: b"{}",
        };
        assert!(check_signature("s", &request, now).is_ok());
        assert!(check_signature("s", &Signed { date: None, ..request }, now).is_ok());
        let code = |r: &Signed<'_>, at| check_signature("s", r, at).map_err(|e| e.code);
        assert_eq!(code(&Signed { date: None, x_date: None, ..request }, now), Err(1004));
        assert_eq!(code(&request, now + chrono::Duration::minutes(6)), Err(1004));
        assert_eq!(code(&Signed { content_type: Some("application/json"), ..request }, now), Err(1004));
        assert_eq!(code(&Signed { uri: "/api/v3/transaction/key/refund", ..request }, now), Err(1004));
        assert_eq!(code(&Signed { signature: None, ..request }, now), Err(1004));
    }
}
