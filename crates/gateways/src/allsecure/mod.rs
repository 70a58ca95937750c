//! The AllSecure adapter (IXOPAY Transaction API v3): checkouts are debits on the
//! hosted page, refunds reference the debit's uuid, callbacks settle what the
//! answers left pending. Our record's id is the `merchantTransactionId` of every
//! transaction, so a retry or a crash can never make a second one.

mod callbacks;
mod client;
mod connect;
mod reconcile;
pub mod signature;

use std::sync::Arc;

use app::ports::{
    GatewayCheckout, GatewayError, GatewayEvent, GatewayLimits, GatewayPayout, GatewayPayoutAnswer, GatewayRefund,
    GatewaySession, PaymentGateway, WebhookDelivery, WebhookError,
};
use app::reconciliation_ports::{OurRecord, Window};
use chrono::{DateTime, Utc};
use domain::payment::Payment;
use domain::reconciliation::Record;
use domain::refunds::{Refund, RefundStatus};
use serde_json::json;

pub use client::{AllSecureClient, AllSecureError, AllSecureSettings, Booked, Outcome};
pub use connect::AllSecureConnectGateway;

/// The placeholder our clients put in their redirect URLs; AllSecure does not
/// substitute it, so we do, with our payment id (the session id on this gateway).
const SESSION_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";
/// IXOPAY's limit on `merchantMetaData` and a sane one for `description`.
const DESCRIPTION_MAX: usize = 255;

impl From<AllSecureError> for GatewayError {
    fn from(error: AllSecureError) -> Self {
        match error {
            AllSecureError::Unreachable(_) | AllSecureError::Unexpected(_) => Self::Unavailable(error.to_string()),
            AllSecureError::Credentials(_) => Self::Misconfigured(error.to_string()),
            AllSecureError::Invalid(_) => Self::Invalid(error.to_string()),
        }
    }
}

pub struct AllSecureGateway {
    client: Arc<AllSecureClient>,
    limits: GatewayLimits,
    /// `SERVER_PUBLIC_URL` + `/webhooks/allsecure`.
    callback_url: String,
    /// The path AllSecure signs callbacks over: the callback URL's, which keeps a
    /// proxy's prefix (`https://shop.example/pay/webhooks/allsecure`) that our
    /// server never sees.
    callback_path: String,
}

impl AllSecureGateway {
    pub fn new(client: Arc<AllSecureClient>, limits: GatewayLimits, public_url: &str) -> Self {
        let callback_url = callback_url(public_url);
        let callback_path = reqwest::Url::parse(&callback_url)
            .map(|url| url.path().to_owned())
            .unwrap_or_else(|_| "/webhooks/allsecure".to_owned());
        Self { client, limits, callback_url, callback_path }
    }
}

/// Where AllSecure posts its callbacks: `SERVER_PUBLIC_URL` + `/webhooks/allsecure`.
fn callback_url(public_url: &str) -> String {
    format!("{}/webhooks/allsecure", public_url.trim_end_matches('/'))
}

/// A payout to a card AllSecure keeps (a top-up's debit made `withRegister`, or a
/// vendor's `register`), keyed by our record's id; wallet withdrawals and vendor
/// payouts both go this way. A refusal names the contract: AllSecure enables
/// payouts per merchant contract.
async fn pay_to_card(
    client: &AllSecureClient,
    callback_url: &str,
    payout: &GatewayPayout,
) -> Result<GatewayPayoutAnswer, GatewayError> {
    let id = payout.id.to_string();
    let body = json!({
        "merchantTransactionId": id,
        "referenceUuid": payout.card_reference,
        "amount": payout.amount.to_decimal_string(),
        "currency": payout.amount.currency().code(),
        "callbackUrl": callback_url,
        "description": payout.description.chars().take(DESCRIPTION_MAX).collect::<String>(),
    });
    match client.transact("payout", &id, &body).await? {
        Outcome::Finished { uuid } => Ok(GatewayPayoutAnswer::Paid { gateway_id: uuid }),
        Outcome::Pending { uuid } | Outcome::Redirect { uuid, .. } => Ok(GatewayPayoutAnswer::Pending { gateway_id: uuid }),
        Outcome::Failed { code, message, .. } => Err(GatewayError::Refused(format!(
            "AllSecure refused the payout (code {}): {message}; check that payouts are enabled for this AllSecure contract",
            code.unwrap_or_default()
        ))),
    }
}

/// The event AllSecure would send for a transaction its answer already settled.
fn settled_event(payment_id: uuid::Uuid, outcome: &Outcome, checkout: &GatewayCheckout) -> Option<GatewayEvent> {
    let (uuid, result, payment_outcome, reason) = match outcome {
        Outcome::Finished { uuid } => (uuid.clone(), "OK", domain::payment::PaymentOutcome::Succeeded, None),
        Outcome::Failed { uuid, message, .. } => (
            uuid.clone().unwrap_or_else(|| payment_id.simple().to_string()),
            "ERROR",
            domain::payment::PaymentOutcome::Failed,
            Some(message.clone()),
        ),
        Outcome::Redirect { .. } | Outcome::Pending { .. } => return None,
    };
    Some(GatewayEvent {
        event_id: format!("{uuid}:DEBIT:{result}"),
        event_type: format!("DEBIT.{result}"),
        created: None,
        effect: app::ports::EventEffect::Checkout {
            session_id: None,
            payment_id: Some(payment_id),
            outcome: payment_outcome,
            payment_intent_id: Some(uuid),
            failure_reason: reason,
            charged: Some((checkout.amount.minor(), checkout.amount.currency().code().to_owned())),
        },
    })
}

#[async_trait::async_trait]
impl PaymentGateway for AllSecureGateway {
    fn name(&self) -> &str {
        "allsecure"
    }

    fn limits(&self) -> &GatewayLimits {
        &self.limits
    }

    /// A debit on the hosted page. Deposits keep the card (`withRegister`) so that
    /// withdrawals can be paid out to it later.
    async fn create_checkout(&self, checkout: &GatewayCheckout) -> Result<GatewaySession, GatewayError> {
        let id = checkout.payment_id.to_string();
        let page = |url: &str| url.replace(SESSION_PLACEHOLDER, &id);
        let body = json!({
            "merchantTransactionId": id,
            "amount": checkout.amount.to_decimal_string(),
            "currency": checkout.amount.currency().code(),
            "successUrl": page(&checkout.success_url),
            "cancelUrl": page(&checkout.cancel_url),
            "errorUrl": page(&checkout.cancel_url),
            "callbackUrl": self.callback_url,
            "description": checkout.description.chars().take(DESCRIPTION_MAX).collect::<String>(),
            "withRegister": checkout.keep_card,
        });
        let outcome = self.client.transact("debit", &id, &body).await?;
        if matches!(&outcome, Outcome::Redirect { url, .. } if url.is_empty()) {
            // Found by the status API after a lost answer: sending the buyer anywhere
            // but the payment page would show success without a payment.
            return Err(GatewayError::Unavailable(format!(
                "AllSecure made debit {id} but its payment page is no longer known; its callback will settle it"
            )));
        }
        let checkout_url = match &outcome {
            Outcome::Redirect { url, .. } => url.clone(),
            Outcome::Failed { .. } => page(&checkout.cancel_url),
            Outcome::Finished { .. } | Outcome::Pending { .. } => page(&checkout.success_url),
        };
        let gateway_transaction_id = match &outcome {
            Outcome::Redirect { uuid, .. } | Outcome::Finished { uuid } | Outcome::Pending { uuid } => Some(uuid.clone()),
            Outcome::Failed { uuid, .. } => uuid.clone(),
        };
        let settled = settled_event(checkout.payment_id, &outcome, checkout);
        Ok(GatewaySession { session_id: id, checkout_url, gateway_transaction_id, settled })
    }

    async fn refund(&self, refund: &Refund, payment: &Payment) -> Result<GatewayRefund, GatewayError> {
        let id = refund.id.to_string();
        let outcome = if refund.gateway_refund_id.is_some() {
            // Made already: ask how it ended rather than send it again.
            self.client
                .status(&id)
                .await?
                .ok_or_else(|| GatewayError::Unavailable(format!("refund {id} is unknown to AllSecure")))?
        } else {
            let debit = payment
                .gateway_payment_intent_id
                .as_deref()
                .ok_or_else(|| GatewayError::Invalid(format!("payment {} has no AllSecure transaction", payment.id)))?;
            let body = json!({
                "merchantTransactionId": id,
                "referenceUuid": debit,
                "amount": refund.amount.to_decimal_string(),
                "currency": refund.amount.currency().code(),
                "callbackUrl": self.callback_url,
                "description": refund.reason.chars().take(DESCRIPTION_MAX).collect::<String>(),
            });
            self.client.transact("refund", &id, &body).await?
        };
        match outcome {
            Outcome::Finished { uuid } => {
                Ok(GatewayRefund { gateway_refund_id: uuid, status: RefundStatus::Succeeded, failure_reason: None })
            }
            Outcome::Pending { uuid } | Outcome::Redirect { uuid, .. } => {
                Ok(GatewayRefund { gateway_refund_id: uuid, status: RefundStatus::Pending, failure_reason: None })
            }
            Outcome::Failed { code, message, .. } => Err(GatewayError::Refused(format!(
                "AllSecure declined the refund (code {}): {message}",
                code.unwrap_or_default()
            ))),
        }
    }

    fn pays_out_to_cards(&self) -> bool {
        true
    }

    /// A wallet withdrawal, to the card of an earlier top-up.
    async fn payout(&self, payout: &GatewayPayout) -> Result<GatewayPayoutAnswer, GatewayError> {
        pay_to_card(&self.client, &self.callback_url, payout).await
    }

    /// Callbacks are always verified, whatever `SIGNATURE_ENABLED` says of requests:
    /// an unsigned callback could pay for anything.
    fn verify_webhook(&self, delivery: &WebhookDelivery<'_>, now: DateTime<Utc>) -> Result<GatewayEvent, WebhookError> {
        let signature_header = delivery.header("x-signature").ok_or(WebhookError::MissingSignature)?;
        let date = delivery.header("date").or_else(|| delivery.header("x-date")).ok_or(WebhookError::MissingSignature)?;
        let content_type = delivery.header("content-type").unwrap_or(signature::CONTENT_TYPE);
        let query = delivery.path_and_query.split_once('?').map(|(_, query)| format!("?{query}")).unwrap_or_default();
        let uri = format!("{}{query}", self.callback_path);
        signature::verify(self.client.callback_secret(), signature_header, "POST", delivery.payload, content_type, date, &uri)?;
        signature::check_fresh(date, now)?;
        callbacks::parse(delivery.payload)
    }

    fn parse_event(&self, _event_id: &str, _event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError> {
        callbacks::parse(object)
    }

    fn reconciles_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.starts_with(connect::ACCOUNT_PREFIX)
    }

    async fn reconciliation_report(&self, _window: &Window, ours: &[OurRecord]) -> Result<Vec<Record>, GatewayError> {
        reconcile::report(&self.client, ours).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(public_url: &str) -> AllSecureGateway {
        let settings = AllSecureSettings {
            base_url: "https://asxgw.example/api/v3".into(),
            api_key: "key".into(),
            username: "user".into(),
            password: "password".into(),
            hash_password: false,
            shared_secret: "shared".into(),
            signature_enabled: true,
            timeout: std::time::Duration::from_secs(1),
            max_retries: 0,
        };
        let limits = GatewayLimits { currencies: None, min_minor: 1, max_minor: 100 };
        AllSecureGateway::new(Arc::new(AllSecureClient::new(settings).unwrap()), limits, public_url)
    }

    #[test]
    fn callbacks_are_checked_over_the_public_callback_path() {
        let body = br#"{"result":"OK","uuid":"u1","merchantTransactionId":"m1","transactionType":"DEBIT"}"#;
        let now = Utc::now();
        let date = signature::http_date(now);
        let delivery = |signed_over: &str| {
            let signature = signature::sign("shared", "POST", body, signature::CONTENT_TYPE, &date, signed_over);
            vec![
                ("x-signature".to_owned(), signature),
                ("date".to_owned(), date.clone()),
                ("content-type".to_owned(), signature::CONTENT_TYPE.to_owned()),
            ]
        };
        let behind_proxy = gateway("https://shop.example/pay");
        let headers = delivery("/pay/webhooks/allsecure");
        let arrived = WebhookDelivery { payload: body, headers: &headers, path_and_query: "/webhooks/allsecure" };
        assert!(behind_proxy.verify_webhook(&arrived, now).is_ok(), "AllSecure signs the URL it was given");
        let headers = delivery("/webhooks/allsecure");
        let arrived = WebhookDelivery { payload: body, headers: &headers, path_and_query: "/webhooks/allsecure" };
        assert_eq!(behind_proxy.verify_webhook(&arrived, now).map(|_| ()), Err(WebhookError::InvalidSignature));
        assert!(gateway("https://pay.example").verify_webhook(&arrived, now).is_ok());
    }
}
