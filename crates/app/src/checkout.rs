//! CreateCheckoutSession: validate, claim the idempotency key with the payment in one
//! transaction, then ask the gateway for a session outside any transaction (or, for a
//! gateway that opens it without a call, write it with the payment).

use chrono::{SubsecRound, Utc};
use domain::payment::{CheckoutInput, CheckoutRequest, Payment};
use domain::{FieldError, Money};
use uuid::Uuid;

use crate::auth::Principal;
use crate::ports::{CreatePaymentOutcome, GatewayCheckout, GatewayLimits, NewPayment, SessionAttachment};
use crate::{App, AppError, idempotency};

const METHOD: &str = "CreateCheckoutSession";

impl App {
    #[tracing::instrument(skip_all, fields(user_id = %input.user_id))]
    pub async fn create_checkout(&self, principal: &Principal, mut input: CheckoutInput) -> Result<Payment, AppError> {
        let gateway = self.gateways.resolve("gateway_name", &input.gateway_name)?;
        input.gateway_name = gateway.name().to_owned();
        let request = CheckoutRequest::parse(input)?;
        principal.ensure_acts_for(&request.user_id)?;
        check_limits(gateway.limits(), request.amount)?;
        if let Some(merchant) = request.merchant_id
            && self.store.account(merchant).await?.is_none()
        {
            return Err(FieldError::new("merchant_id", "is not a connected account").into());
        }

        let claim = idempotency::claim(principal, request.idempotency_key.as_ref(), METHOD, &fingerprint(&request));
        // Microseconds, as stored: the first answer is this candidate, a replay the row.
        let now = Utc::now().trunc_subsecs(6);
        let mut candidate = Payment::pending(Uuid::now_v7(), &request, now);
        // A session opened without a call is written with the payment; one the gateway
        // settled in its answer goes through `ensure_gateway_session` to apply it.
        if let Some(session) = gateway.session_without_call(&gateway_checkout(&candidate)).filter(|s| s.settled.is_none()) {
            candidate.gateway_session_id = Some(session.session_id);
            candidate.checkout_url = Some(session.checkout_url);
            candidate.gateway_payment_intent_id = session.gateway_transaction_id;
        }
        let new = NewPayment { payment: candidate, claim: claim.clone() };
        let (payment, outcome) = match self.new_payments.submit(new).await.map_err(AppError::internal)?? {
            CreatePaymentOutcome::Created(payment) => (payment, "created"),
            CreatePaymentOutcome::KeyExists { request_hash, method, payment } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let payment = payment.ok_or_else(|| AppError::Internal("idempotency key without its payment".into()))?;
                (payment, "replayed")
            }
        };
        let payment = self.ensure_gateway_session(payment).await?;
        crate::metrics::checkout_session(&payment.gateway_name, outcome);
        tracing::info!(payment_id = %payment.id, outcome, "checkout session ready");
        Ok(payment)
    }

    /// Asks the gateway for a session if the payment has none yet. The gateway call is
    /// idempotent per payment id, so a retry after a crash gets the same session.
    async fn ensure_gateway_session(&self, payment: Payment) -> Result<Payment, AppError> {
        if payment.gateway_session_id.is_some() {
            return Ok(payment);
        }
        let gateway = self.gateways.resolve("gateway_name", &payment.gateway_name)?;
        let session = gateway.create_checkout(&gateway_checkout(&payment)).await.map_err(|error| {
            tracing::warn!(payment_id = %payment.id, %error, "gateway did not create a checkout session");
            AppError::from(error)
        })?;
        let attachment = SessionAttachment {
            payment_id: payment.id,
            session_id: session.session_id,
            checkout_url: session.checkout_url,
            gateway_transaction_id: session.gateway_transaction_id,
        };
        let attached = self.sessions.submit(attachment).await.map_err(AppError::internal)??;
        match session.settled {
            Some(event) => {
                let payload = serde_json::json!({"id": event.event_id, "type": event.event_type, "answer_of": "checkout"});
                let receipt = self.apply_event(gateway.name(), event, payload.to_string()).await?;
                Ok(receipt.payment.unwrap_or(attached))
            }
            None => Ok(attached),
        }
    }
}

/// What the gateway is asked to open a session for.
fn gateway_checkout(payment: &Payment) -> GatewayCheckout {
    GatewayCheckout {
        payment_id: payment.id,
        amount: payment.amount,
        description: checkout_description(payment),
        success_url: payment.success_url.clone(),
        cancel_url: payment.cancel_url.clone(),
        metadata: payment.metadata.clone(),
        keep_card: payment.payment_type == domain::payment::PaymentType::BalanceDeposit,
    }
}

/// The client's `description` metadata when it gave one, else what was bought.
fn checkout_description(payment: &Payment) -> String {
    match payment.metadata.get("description") {
        Some(text) if !text.trim().is_empty() => text.clone(),
        _ if payment.payment_type == domain::payment::PaymentType::BalanceDeposit => "Wallet top-up".to_owned(),
        _ => format!("Payment {}", payment.id),
    }
}

pub(crate) fn check_limits(limits: &GatewayLimits, amount: Money) -> Result<(), FieldError> {
    let code = amount.currency().code();
    if let Some(currencies) = &limits.currencies
        && !currencies.iter().any(|c| c == code)
    {
        return Err(FieldError::new("currency", format!("{code} is not supported by this gateway ({})", currencies.join(", "))));
    }
    let bound = |minor| Money::from_minor(minor, amount.currency()).to_decimal_string();
    if amount.minor() < limits.min_minor || amount.minor() > limits.max_minor {
        return Err(FieldError::new(
            "amount",
            format!("must be between {} and {} {code} for this gateway", bound(limits.min_minor), bound(limits.max_minor)),
        ));
    }
    Ok(())
}

/// Everything the client asked for, key excluded.
fn fingerprint(request: &CheckoutRequest) -> Vec<String> {
    let escrow = request.escrow.as_ref().map(|e| format!("{}/{}", e.merchant_id, e.hold_days)).unwrap_or_default();
    let fields = [
        request.user_id.clone(),
        request.amount.minor().to_string(),
        request.amount.currency().code().to_owned(),
        request.payment_type.as_str().to_owned(),
        request.success_url.as_str().to_owned(),
        request.cancel_url.as_str().to_owned(),
        escrow,
        request.merchant_id.map(|m| m.to_string()).unwrap_or_default(),
        request.buyer_id.clone().unwrap_or_default(),
        request.gateway_name.clone(),
        serde_json::to_string(&request.metadata).unwrap_or_default(),
    ];
    fields.to_vec()
}
