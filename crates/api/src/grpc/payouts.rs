//! `payment.v1.PayoutService`.

use app::App;
use app::payouts::PayoutInput;
use tonic::{Request, Response, Status};

use super::{optional_enum, page, principal};
use crate::convert::marketplace as wire;
use crate::error::to_status;
use crate::proto::{self, payout_service_server::PayoutService};

pub struct PayoutApi {
    app: App,
}

impl PayoutApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl PayoutService for PayoutApi {
    async fn create_payout(
        &self,
        request: Request<proto::CreatePayoutRequest>,
    ) -> Result<Response<proto::CreatePayoutResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = PayoutInput {
            connected_account_id: r.connected_account_id,
            amount: r.amount,
            currency: r.currency,
            method: optional_enum("method", r.method, wire::payout_method_from_wire)?,
            description: r.description,
            statement_descriptor: r.statement_descriptor,
            metadata: r.metadata.into_iter().collect(),
            idempotency_key: r.idempotency_key,
        };
        let payout = self.app.create_payout(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CreatePayoutResponse { payout: Some(wire::payout(payout)) }))
    }

    async fn get_payout(&self, request: Request<proto::GetPayoutRequest>) -> Result<Response<proto::GetPayoutResponse>, Status> {
        let principal = principal(&request)?;
        let payout = self.app.payout(&principal, &request.get_ref().payout_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetPayoutResponse { payout: Some(wire::payout(payout)) }))
    }

    async fn list_payouts(
        &self,
        request: Request<proto::ListPayoutsRequest>,
    ) -> Result<Response<proto::ListPayoutsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let status = optional_enum("status", r.status, wire::payout_status_from_wire)?;
        let (payouts, total) =
            self.app.payouts(&principal, &r.connected_account_id, status, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListPayoutsResponse {
            payouts: payouts.into_iter().map(wire::payout).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn cancel_payout(
        &self,
        request: Request<proto::CancelPayoutRequest>,
    ) -> Result<Response<proto::CancelPayoutResponse>, Status> {
        let principal = principal(&request)?;
        let payout = self.app.cancel_payout(&principal, &request.get_ref().payout_id).await.map_err(to_status)?;
        Ok(Response::new(proto::CancelPayoutResponse { payout: Some(wire::payout(payout)) }))
    }
}
