//! The Stripe webhook signature scheme, also used by the mock gateway:
//! `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.

use app::ports::WebhookError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header that carries the signature.
pub const HEADER: &str = "stripe-signature";

/// A signature older or newer than this is refused (replay protection).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The header value a gateway would send for `payload` at `timestamp`.
pub fn sign(secret: &str, payload: &[u8], timestamp: i64) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, payload)))
}

/// Accepts the header if any `v1` signature matches and `t` is within tolerance.
pub fn verify(secret: &str, header: &str, payload: &[u8], now: DateTime<Utc>) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    if header.trim().is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::InvalidSignature)?;
    if signatures.is_empty() {
        return Err(WebhookError::InvalidSignature);
    }
    let expected = mac(secret, timestamp, payload);
    if !signatures.iter().any(|candidate| bool::from(candidate.as_slice().ct_eq(expected.as_slice()))) {
        return Err(WebhookError::InvalidSignature);
    }
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_S {
        return Err(WebhookError::StaleSignature);
    }
    Ok(())
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_fresh_correct_signature_is_accepted() {
        let header = sign(SECRET, b"{}", 1_000_000);
        assert_eq!(verify(SECRET, &header, b"{}", at(1_000_000 + SIGNATURE_TOLERANCE_S)), Ok(()));
    }

    #[test]
    fn tampering_wrong_secrets_and_staleness_are_refused() {
        let header = sign(SECRET, b"{\"a\":1}", 1_000_000);
        let now = at(1_000_000);
        assert_eq!(verify(SECRET, &header, b"{\"a\":2}", now), Err(WebhookError::InvalidSignature));
        assert_eq!(verify("whsec_other", &header, b"{\"a\":1}", now), Err(WebhookError::InvalidSignature));
        assert_eq!(
            verify(SECRET, &header, b"{\"a\":1}", at(1_000_000 + SIGNATURE_TOLERANCE_S + 1)),
            Err(WebhookError::StaleSignature)
        );
        assert_eq!(verify(SECRET, "", b"{}", now), Err(WebhookError::MissingSignature));
        assert_eq!(verify(SECRET, "t=1000000", b"{}", now), Err(WebhookError::InvalidSignature));
        assert_eq!(verify(SECRET, "v1=zz,t=x", b"{}", now), Err(WebhookError::InvalidSignature));
        assert_eq!(verify("", &header, b"{\"a\":1}", now), Err(WebhookError::NoSecret));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(SECRET, b"{}", 1_000_000);
        let header = format!("t=1000000,v1={},{}", "00".repeat(32), good.split(',').nth(1).unwrap_or_default());
        assert_eq!(verify(SECRET, &header, b"{}", at(1_000_000)), Ok(()));
    }
}
