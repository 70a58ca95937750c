//! Webhook events as Stripe sends them: the envelope, and the `Stripe-Signature` header.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::state::new_id;

/// The API version the fake speaks and stamps on events.
pub(crate) const API_VERSION: &str = "2023-08-16";

/// `Stripe-Signature` header value: `t={t},v1={hex HMAC-SHA256(secret, "{t}." + body)}`.
/// The secret is used whole, `whsec_` prefix included, as Stripe does.
pub fn sign(secret: &str, body: &[u8], t: i64) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty v1 would be refused.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return format!("t={t},v1=");
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// An event body; `account` appears only for Connect events (from a connected account).
pub(crate) fn envelope(event_type: &str, object: Value, account: Option<&str>, created: i64) -> Vec<u8> {
    let mut event = json!({
        "id": new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "livemode": false,
        "type": event_type,
        "data": {"object": object, "previous_attributes": {}},
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
    });
    if let Some(account) = account {
        event["account"] = json!(account);
    }
    serde_json::to_vec(&event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_stripes_test_vector() {
        let header = sign("whsec_test", br#"{"id":"evt_1","object":"event"}"#, 1_700_000_000);
        assert_eq!(header, "t=1700000000,v1=4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021");
    }

    #[test]
    fn connect_events_carry_the_account_and_platform_events_do_not() {
        let platform: Value =
            serde_json::from_slice(&envelope("payout.paid", json!({"id": "po_1"}), None, 5)).unwrap_or_default();
        assert!(platform.get("account").is_none());
        assert_eq!(platform["created"], 5);
        assert_eq!(platform["data"]["object"]["id"], "po_1");
        let connect: Value = serde_json::from_slice(&envelope("payout.paid", json!({}), Some("acct_1"), 5)).unwrap_or_default();
        assert_eq!(connect["account"], "acct_1");
        assert_eq!(connect["api_version"], "2023-08-16");
    }
}
