//! `payment.v1.DisputeService`.

use app::{App, CloseDispute};
use domain::FieldError;
use tonic::{Request, Response, Status};

use super::{optional_enum, page, principal};
use crate::convert::disputes as wire;
use crate::error::to_status;
use crate::proto::{self, dispute_service_server::DisputeService};

pub struct DisputeApi {
    app: App,
}

impl DisputeApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl DisputeService for DisputeApi {
    async fn get_dispute(
        &self,
        request: Request<proto::GetDisputeRequest>,
    ) -> Result<Response<proto::GetDisputeResponse>, Status> {
        let principal = principal(&request)?;
        let dispute = self.app.dispute(&principal, &request.get_ref().dispute_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetDisputeResponse { dispute: Some(wire::dispute(dispute)) }))
    }

    async fn list_disputes(
        &self,
        request: Request<proto::ListDisputesRequest>,
    ) -> Result<Response<proto::ListDisputesResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let status = optional_enum("status", r.status, wire::dispute_status_from_wire)?;
        let (disputes, total) =
            self.app.disputes(&principal, &r.payment_id, status, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListDisputesResponse {
            disputes: disputes.into_iter().map(wire::dispute).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn close_dispute(
        &self,
        request: Request<proto::CloseDisputeRequest>,
    ) -> Result<Response<proto::CloseDisputeResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let outcome = optional_enum("outcome", r.outcome, wire::dispute_status_from_wire)?
            .ok_or_else(|| to_status(FieldError::new("outcome", "must be WON or LOST").into()))?;
        let input = CloseDispute { dispute_id: &r.dispute_id, outcome, reason: &r.reason, idempotency_key: &r.idempotency_key };
        let dispute = self.app.close_dispute(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CloseDisputeResponse { dispute: Some(wire::dispute(dispute)) }))
    }
}
