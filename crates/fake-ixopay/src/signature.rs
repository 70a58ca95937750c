//! IXOPAY's `X-Signature`: base64(HMAC-SHA512(shared secret, METHOD ⏎ hex(hash(body)) ⏎
//! Content-Type ⏎ Date ⏎ path-and-query)). The body hash is SHA-512; older clients use
//! MD5, and the gateway accepts both. Callbacks are signed the same way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha2::{Digest, Sha512};

/// The only Content-Type a signed request may carry, and the one callbacks carry.
pub(crate) const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// How far a signed request's Date may be from the fake's clock.
pub(crate) const DATE_SKEW_S: i64 = 5 * 60;

/// `X-Signature` with the SHA-512 body hash, as current IXOPAY clients send it.
pub fn sign(shared_secret: &str, method: &str, body: &[u8], content_type: &str, date: &str, uri: &str) -> String {
    sign_hashed(shared_secret, method, &hex::encode(Sha512::digest(body)), content_type, date, uri)
}

/// The signature over an already hex-encoded body hash (SHA-512 or MD5).
fn sign_hashed(shared_secret: &str, method: &str, body_hash: &str, content_type: &str, date: &str, uri: &str) -> String {
    let message = format!("{method}\n{body_hash}\n{content_type}\n{date}\n{uri}");
    // HMAC accepts keys of any length, so this never fails; an empty signature never matches.
    let Ok(mut mac) = <Hmac<Sha512> as KeyInit>::new_from_slice(shared_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// True if `given` is the signature with either body hash (SHA-512 or MD5).
pub(crate) fn verify(
    shared_secret: &str,
    given: &str,
    method: &str,
    body: &[u8],
    content_type: &str,
    date: &str,
    uri: &str,
) -> bool {
    let hashes = [hex::encode(Sha512::digest(body)), hex::encode(Md5::digest(body))];
    !given.is_empty() && hashes.iter().any(|hash| sign_hashed(shared_secret, method, hash, content_type, date, uri) == given)
}

/// `now` as the gateway writes its Date header, e.g. `Tue, 21 Jul 2020 13:15:03 UTC`.
pub fn http_date(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S UTC").to_string()
}

/// Reads an RFC 7231 date ending in `GMT` or `UTC` (clients differ), or any RFC 2822 date.
pub(crate) fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let bare = text.strip_suffix(" GMT").or_else(|| text.strip_suffix(" UTC"));
    if let Some(bare) = bare
        && let Ok(naive) = NaiveDateTime::parse_from_str(bare, "%a, %d %b %Y %H:%M:%S")
    {
        return Some(naive.and_utc());
    }
    DateTime::parse_from_rfc2822(text).ok().map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "my-shared-secret";
    const DATE: &str = "Tue, 21 Jul 2020 13:15:03 UTC";
    const URI: &str = "/api/v3/transaction/my-api-key/debit";
    const BODY: &[u8] = br#"{"merchantTransactionId":"order-1","amount":"9.99","currency":"EUR"}"#;
    const SHA512_VECTOR: &str = "9WL+9hqpOwd4VM7KAQUcyFj+TAFb5Zd2zmmHnZz8sSrCNWU1SK8pCocN4C5EcJWNUzCfU74Qgam+Z2H54pKEwQ==";
    const MD5_VECTOR: &str = "mnlIGV4KiPbfZVsVFU0+gCXGA7kpDULPZr5Sg1ukqg3PjnwXUNUeZ9cwkWthyTUsfyLLwZtcX6UuCYPv1vf5Sg==";

    #[test]
    fn the_sha512_test_vector_holds() {
        assert_eq!(sign(SECRET, "POST", BODY, CONTENT_TYPE, DATE, URI), SHA512_VECTOR);
    }

    #[test]
    fn the_md5_test_vector_holds() {
        let md5 = hex::encode(Md5::digest(BODY));
        assert_eq!(sign_hashed(SECRET, "POST", &md5, CONTENT_TYPE, DATE, URI), MD5_VECTOR);
    }

    #[test]
    fn both_body_hashes_verify_and_any_change_does_not() {
        assert!(verify(SECRET, SHA512_VECTOR, "POST", BODY, CONTENT_TYPE, DATE, URI));
        assert!(verify(SECRET, MD5_VECTOR, "POST", BODY, CONTENT_TYPE, DATE, URI));
        assert!(!verify(SECRET, SHA512_VECTOR, "POST", b"{}", CONTENT_TYPE, DATE, URI));
        assert!(!verify(SECRET, SHA512_VECTOR, "POST", BODY, CONTENT_TYPE, DATE, "/api/v3/transaction/my-api-key/refund"));
        assert!(!verify("other-secret", SHA512_VECTOR, "POST", BODY, CONTENT_TYPE, DATE, URI));
        assert!(!verify(SECRET, "", "POST", BODY, CONTENT_TYPE, DATE, URI));
    }

    #[test]
    fn dates_round_trip_in_either_zone_name() {
        let date = parse_http_date(DATE).unwrap();
        assert_eq!(http_date(date), DATE);
        assert_eq!(parse_http_date("Tue, 21 Jul 2020 13:15:03 GMT"), Some(date));
        assert_eq!(parse_http_date("Tue, 21 Jul 2020 15:15:03 +0200"), Some(date));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
