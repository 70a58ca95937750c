//! The buyer's cookie and the CSRF token of every form: an HMAC of the buyer id
//! under a key only this process knows. A forged form from another site can send
//! the cookie but cannot compute the token.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const BUYER_COOKIE: &str = "shop_buyer";
const BUYER_PREFIX: &str = "buyer-";

pub struct Csrf {
    key: [u8; 32],
}

impl Csrf {
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    fn mac(&self, buyer: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(buyer.as_bytes());
        mac
    }

    pub fn token(&self, buyer: &str) -> String {
        hex::encode(self.mac(buyer).finalize().into_bytes())
    }

    /// Constant-time check of a form's token against the buyer's cookie.
    pub fn verify(&self, buyer: &str, token: &str) -> bool {
        hex::decode(token).is_ok_and(|bytes| self.mac(buyer).verify_slice(&bytes).is_ok())
    }
}

/// A new buyer id for a first visit.
pub fn new_buyer() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("{BUYER_PREFIX}{}", hex::encode(bytes))
}

/// The buyer id of the request's cookie, when it is one the shop could have made.
pub fn buyer(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BUYER_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.strip_prefix(BUYER_PREFIX).is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// SameSite=Lax: the buyer comes back from the gateway's page with a top-level GET,
/// which must carry it; cross-site POSTs do not.
pub fn set_cookie(buyer: &str) -> String {
    format!("{BUYER_COOKIE}={buyer}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_for_its_buyer_only() {
        let csrf = Csrf::random();
        let (ana, marko) = (new_buyer(), new_buyer());
        assert!(csrf.verify(&ana, &csrf.token(&ana)));
        assert!(!csrf.verify(&marko, &csrf.token(&ana)));
        assert!(!csrf.verify(&ana, ""));
        assert!(!Csrf::random().verify(&ana, &csrf.token(&ana)), "another process's key");
    }

    #[test]
    fn only_a_well_formed_buyer_cookie_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; shop_buyer=buyer-0123456789abcdef".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(buyer(&headers).as_deref(), Some("buyer-0123456789abcdef"));
        headers.insert(COOKIE, "shop_buyer=<script>".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(buyer(&headers), None);
    }
}
