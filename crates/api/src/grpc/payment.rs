//! `payment.v1.PaymentService`.

use app::App;
use domain::payment::CheckoutInput;
use tonic::{Request, Response, Status};

use super::principal;
use crate::convert;
use crate::error::to_status;
use crate::proto::{self, payment_service_server::PaymentService};

pub struct PaymentApi {
    app: App,
}

impl PaymentApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl PaymentService for PaymentApi {
    async fn health_check(&self, _: Request<proto::HealthCheckRequest>) -> Result<Response<proto::HealthCheckResponse>, Status> {
        self.app.health().await.map_err(to_status)?;
        Ok(Response::new(proto::HealthCheckResponse { status: "SERVING".into() }))
    }

    async fn create_checkout_session(
        &self,
        request: Request<proto::CreateCheckoutSessionRequest>,
    ) -> Result<Response<proto::CreateCheckoutSessionResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = CheckoutInput {
            user_id: r.user_id,
            amount: r.amount,
            currency: r.currency,
            payment_type: convert::payment_type_from_wire(r.payment_type),
            success_url: r.success_url,
            cancel_url: r.cancel_url,
            escrow_enabled: r.escrow_enabled,
            escrow_hold_days: r.escrow_hold_days,
            merchant_id: r.merchant_id,
            buyer_id: r.buyer_id,
            gateway_name: r.gateway_name,
            idempotency_key: r.idempotency_key,
            metadata: r.metadata.into_iter().collect(),
        };
        let payment = self.app.create_checkout(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CreateCheckoutSessionResponse {
            payment_id: payment.id.to_string(),
            session_id: payment.gateway_session_id.clone().unwrap_or_default(),
            checkout_url: payment.checkout_url.clone().unwrap_or_default(),
            status: convert::payment_status(payment.status),
        }))
    }

    async fn get_payment(
        &self,
        request: Request<proto::GetPaymentRequest>,
    ) -> Result<Response<proto::GetPaymentResponse>, Status> {
        let principal = principal(&request)?;
        let payment = self.app.payment(&principal, &request.get_ref().payment_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetPaymentResponse { payment: Some(convert::payment(payment)) }))
    }

    async fn get_user_payments(
        &self,
        request: Request<proto::GetUserPaymentsRequest>,
    ) -> Result<Response<proto::GetUserPaymentsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let page = super::page(r.limit, r.offset)?;
        let (payments, total) = self.app.user_payments(&principal, &r.user_id, page).await.map_err(to_status)?;
        Ok(Response::new(proto::GetUserPaymentsResponse {
            payments: payments.into_iter().map(convert::payment).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn process_webhook(
        &self,
        request: Request<proto::ProcessWebhookRequest>,
    ) -> Result<Response<proto::ProcessWebhookResponse>, Status> {
        principal(&request)?;
        let r = request.get_ref();
        // Stripe's scheme (and the mock's): the signature is the Stripe-Signature value.
        let headers = [("stripe-signature".to_owned(), r.signature.clone())];
        let path = format!("/webhooks/{}", r.gateway_name);
        let delivery = app::ports::WebhookDelivery { payload: &r.payload, headers: &headers, path_and_query: &path };
        let receipt = self.app.receive_webhook(&r.gateway_name, &delivery).await.map_err(to_status)?;
        Ok(Response::new(proto::ProcessWebhookResponse { success: true, message: receipt.message }))
    }

    async fn process_webhook_event(
        &self,
        request: Request<proto::ProcessWebhookEventRequest>,
    ) -> Result<Response<proto::ProcessWebhookEventResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let receipt = self
            .app
            .receive_trusted_event(&principal, &r.gateway_name, &r.event_id, &r.event_type, &r.event_payload)
            .await
            .map_err(to_status)?;
        let applied = receipt.duplicate || receipt.applied;
        Ok(Response::new(proto::ProcessWebhookEventResponse {
            success: applied,
            error_message: if applied { String::new() } else { receipt.message },
            payment_id: receipt.payment.map(|p| p.id.to_string()).unwrap_or_default(),
        }))
    }
}
