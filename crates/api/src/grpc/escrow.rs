//! `payment.v1.EscrowService` and `payment.v1.RefundService`.

use app::App;
use tonic::{Request, Response, Status};

use super::{optional_enum, page, principal};
use crate::convert::escrow as wire;
use crate::error::to_status;
use crate::proto::{self, escrow_service_server::EscrowService, refund_service_server::RefundService};

pub struct EscrowApi {
    app: App,
}

impl EscrowApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl EscrowService for EscrowApi {
    async fn get_escrow_hold(
        &self,
        request: Request<proto::GetEscrowHoldRequest>,
    ) -> Result<Response<proto::GetEscrowHoldResponse>, Status> {
        let principal = principal(&request)?;
        let hold = self.app.escrow(&principal, &request.get_ref().escrow_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetEscrowHoldResponse { escrow: Some(wire::hold(hold)) }))
    }

    async fn get_escrow_by_payment_id(
        &self,
        request: Request<proto::GetEscrowByPaymentIdRequest>,
    ) -> Result<Response<proto::GetEscrowByPaymentIdResponse>, Status> {
        let principal = principal(&request)?;
        let hold = self.app.escrow_by_payment(&principal, &request.get_ref().payment_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetEscrowByPaymentIdResponse { escrow: Some(wire::hold(hold)) }))
    }

    async fn list_escrows(
        &self,
        request: Request<proto::ListEscrowsRequest>,
    ) -> Result<Response<proto::ListEscrowsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let status = optional_enum("status", r.status, wire::escrow_status_from_wire)?;
        let (holds, total) = self.app.escrows(&principal, status, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListEscrowsResponse {
            escrows: holds.into_iter().map(wire::hold).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn release_escrow_hold(
        &self,
        request: Request<proto::ReleaseEscrowHoldRequest>,
    ) -> Result<Response<proto::ReleaseEscrowHoldResponse>, Status> {
        let principal = principal(&request)?;
        let hold = self.app.release_escrow(&principal, &request.get_ref().escrow_id).await.map_err(to_status)?;
        Ok(Response::new(proto::ReleaseEscrowHoldResponse { success: true, escrow: Some(wire::hold(hold)) }))
    }

    async fn cancel_escrow_hold(
        &self,
        request: Request<proto::CancelEscrowHoldRequest>,
    ) -> Result<Response<proto::CancelEscrowHoldResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let hold = self.app.cancel_escrow(&principal, &r.escrow_id, &r.reason).await.map_err(to_status)?;
        Ok(Response::new(proto::CancelEscrowHoldResponse { success: true, escrow: Some(wire::hold(hold)) }))
    }

    async fn process_expired_escrows(
        &self,
        request: Request<proto::ProcessExpiredEscrowsRequest>,
    ) -> Result<Response<proto::ProcessExpiredEscrowsResponse>, Status> {
        let principal = principal(&request)?;
        let released = self.app.process_expired_escrows(&principal, request.get_ref().limit).await.map_err(to_status)?;
        Ok(Response::new(proto::ProcessExpiredEscrowsResponse { released_count: i32::try_from(released).unwrap_or(i32::MAX) }))
    }
}

#[tonic::async_trait]
impl RefundService for EscrowApi {
    async fn create_refund(
        &self,
        request: Request<proto::CreateRefundRequest>,
    ) -> Result<Response<proto::CreateRefundResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let refund = self
            .app
            .create_refund(&principal, &r.payment_id, &r.amount, &r.reason, &r.idempotency_key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::CreateRefundResponse { refund: Some(wire::refund(refund)) }))
    }

    async fn get_refund(&self, request: Request<proto::GetRefundRequest>) -> Result<Response<proto::GetRefundResponse>, Status> {
        let principal = principal(&request)?;
        let refund = self.app.refund(&principal, &request.get_ref().refund_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetRefundResponse { refund: Some(wire::refund(refund)) }))
    }

    async fn get_payment_refunds(
        &self,
        request: Request<proto::GetPaymentRefundsRequest>,
    ) -> Result<Response<proto::GetPaymentRefundsResponse>, Status> {
        let principal = principal(&request)?;
        let refunds = self.app.payment_refunds(&principal, &request.get_ref().payment_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetPaymentRefundsResponse { refunds: refunds.into_iter().map(wire::refund).collect() }))
    }
}
