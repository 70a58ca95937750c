//! `payment.v1.TransferService`.

use app::App;
use app::transfers::TransferInput;
use tonic::{Request, Response, Status};

use super::{page, principal};
use crate::convert::marketplace as wire;
use crate::error::to_status;
use crate::proto::{self, transfer_service_server::TransferService};

pub struct TransferApi {
    app: App,
}

impl TransferApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl TransferService for TransferApi {
    async fn create_transfer(
        &self,
        request: Request<proto::CreateTransferRequest>,
    ) -> Result<Response<proto::CreateTransferResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = TransferInput {
            connected_account_id: r.connected_account_id,
            amount: r.amount,
            currency: r.currency,
            payment_id: r.payment_id,
            description: r.description,
            metadata: r.metadata.into_iter().collect(),
            idempotency_key: r.idempotency_key,
        };
        let transfer = self.app.create_transfer(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CreateTransferResponse { transfer: Some(wire::transfer(transfer)) }))
    }

    async fn get_transfer(
        &self,
        request: Request<proto::GetTransferRequest>,
    ) -> Result<Response<proto::GetTransferResponse>, Status> {
        let principal = principal(&request)?;
        let transfer = self.app.transfer(&principal, &request.get_ref().transfer_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetTransferResponse { transfer: Some(wire::transfer(transfer)) }))
    }

    async fn list_transfers(
        &self,
        request: Request<proto::ListTransfersRequest>,
    ) -> Result<Response<proto::ListTransfersResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (transfers, total) =
            self.app.transfers(&principal, &r.connected_account_id, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListTransfersResponse {
            transfers: transfers.into_iter().map(wire::transfer).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn reverse_transfer(
        &self,
        request: Request<proto::ReverseTransferRequest>,
    ) -> Result<Response<proto::ReverseTransferResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (reversal, transfer) = self
            .app
            .reverse_transfer(&principal, &r.transfer_id, &r.amount, &r.description, &r.idempotency_key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ReverseTransferResponse {
            reversal: Some(wire::reversal(reversal)),
            transfer: Some(wire::transfer(transfer)),
        }))
    }
}
