//! AllSecure's (IXOPAY's) `X-Signature`: base64(HMAC-SHA512(shared secret, METHOD ⏎
//! hex(SHA-512(body)) ⏎ Content-Type ⏎ Date ⏎ path-and-query)). Older clients hash
//! the body with MD5; a verifier accepts both. Callbacks are signed the same way
//! over *our* callback path.

use app::ports::WebhookError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// A callback whose `Date` is further than this from now is refused (replays).
pub const FRESHNESS_S: i64 = 300;
const DATE_FORMAT: &str = "%a, %d %b %Y %H:%M:%S";

type HmacSha512 = Hmac<Sha512>;

/// The `X-Signature` value for a request (SHA-512 body hash).
pub fn sign(secret: &str, method: &str, body: &[u8], content_type: &str, date: &str, uri: &str) -> String {
    STANDARD.encode(mac(secret, method, &hex::encode(Sha512::digest(body)), content_type, date, uri))
}

/// Accepts `signature` if it matches with either body hash, compared in constant time.
pub fn verify(
    secret: &str,
    signature: &str,
    method: &str,
    body: &[u8],
    content_type: &str,
    date: &str,
    uri: &str,
) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let given = STANDARD.decode(signature.trim()).map_err(|_| WebhookError::InvalidSignature)?;
    let matches = [hex::encode(Sha512::digest(body)), hex::encode(Md5::digest(body))]
        .iter()
        .any(|hash| bool::from(given.as_slice().ct_eq(&mac(secret, method, hash, content_type, date, uri))));
    if matches { Ok(()) } else { Err(WebhookError::InvalidSignature) }
}

fn mac(secret: &str, method: &str, body_hash: &str, content_type: &str, date: &str, uri: &str) -> Vec<u8> {
    let mut mac = HmacSha512::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{method}\n{body_hash}\n{content_type}\n{date}\n{uri}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `Date` header's form: `Tue, 21 Jul 2020 13:15:03 UTC`.
pub fn http_date(now: DateTime<Utc>) -> String {
    format!("{} UTC", now.format(DATE_FORMAT))
}

/// Reads a `Date` in that form, with `UTC` or `GMT`.
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let bare = text.strip_suffix(" UTC").or_else(|| text.strip_suffix(" GMT"))?;
    NaiveDateTime::parse_from_str(bare, DATE_FORMAT).ok().map(|naive| naive.and_utc())
}

/// The date is present, readable and within the freshness window.
pub fn check_fresh(date: &str, now: DateTime<Utc>) -> Result<(), WebhookError> {
    let sent = parse_http_date(date).ok_or(WebhookError::InvalidSignature)?;
    if (now - sent).num_seconds().abs() > FRESHNESS_S {
        return Err(WebhookError::StaleSignature);
    }
    Ok(())
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
    fn the_documented_vectors_sign_and_verify() {
        assert_eq!(sign(SECRET, "POST", BODY, CONTENT_TYPE, DATE, URI), SHA512_VECTOR);
        for vector in [SHA512_VECTOR, MD5_VECTOR] {
            assert_eq!(verify(SECRET, vector, "POST", BODY, CONTENT_TYPE, DATE, URI), Ok(()));
        }
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let check = |secret, body: &[u8], date, uri| verify(secret, SHA512_VECTOR, "POST", body, CONTENT_TYPE, date, uri);
        assert_eq!(check("other", BODY, DATE, URI), Err(WebhookError::InvalidSignature));
        assert_eq!(check(SECRET, b"{}", DATE, URI), Err(WebhookError::InvalidSignature));
        assert_eq!(check(SECRET, BODY, "Tue, 21 Jul 2020 13:15:04 UTC", URI), Err(WebhookError::InvalidSignature));
        assert_eq!(check(SECRET, BODY, DATE, "/api/v3/transaction/my-api-key/refund"), Err(WebhookError::InvalidSignature));
        assert_eq!(verify(SECRET, "not base64!", "POST", BODY, CONTENT_TYPE, DATE, URI), Err(WebhookError::InvalidSignature));
        assert_eq!(verify("", SHA512_VECTOR, "POST", BODY, CONTENT_TYPE, DATE, URI), Err(WebhookError::NoSecret));
    }

    #[test]
    fn dates_round_trip_and_stale_ones_are_refused() {
        let sent = parse_http_date(DATE).unwrap();
        assert_eq!(http_date(sent), DATE);
        assert_eq!(parse_http_date("Tue, 21 Jul 2020 13:15:03 GMT"), Some(sent));
        assert_eq!(check_fresh(DATE, sent + chrono::Duration::seconds(FRESHNESS_S)), Ok(()));
        assert_eq!(check_fresh(DATE, sent + chrono::Duration::seconds(FRESHNESS_S + 1)), Err(WebhookError::StaleSignature));
        assert_eq!(check_fresh("yesterday", sent), Err(WebhookError::InvalidSignature));
    }
}
