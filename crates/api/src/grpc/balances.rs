//! `payment.v1.BalanceService`.

use app::App;
use tonic::{Request, Response, Status};

use super::{page, principal, time};
use crate::convert::marketplace as wire;
use crate::error::to_status;
use crate::proto::{self, balance_service_server::BalanceService};

pub struct BalanceApi {
    app: App,
}

impl BalanceApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl BalanceService for BalanceApi {
    async fn get_balance(
        &self,
        request: Request<proto::GetBalanceRequest>,
    ) -> Result<Response<proto::GetBalanceResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let balances = self.app.balance(&principal, &r.account_id, r.force_refresh).await.map_err(to_status)?;
        Ok(Response::new(proto::GetBalanceResponse {
            balances: balances.into_iter().map(|s| wire::snapshot(s, r.force_refresh)).collect(),
        }))
    }

    async fn get_balance_history(
        &self,
        request: Request<proto::GetBalanceHistoryRequest>,
    ) -> Result<Response<proto::GetBalanceHistoryResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let from = time("from_date", r.from_date)?;
        let to = time("to_date", r.to_date)?;
        let (snapshots, total) =
            self.app.balance_history(&principal, &r.account_id, from, to, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::GetBalanceHistoryResponse {
            snapshots: snapshots.into_iter().map(|s| wire::snapshot(s, true)).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }
}
