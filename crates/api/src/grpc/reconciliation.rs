//! `payment.v1.ReconciliationService`: the stored runs, read only.

use app::App;
use tonic::{Request, Response, Status};

use super::{page, principal};
use crate::convert::reconciliation as wire;
use crate::error::to_status;
use crate::proto::{self, reconciliation_service_server::ReconciliationService};

pub struct ReconciliationApi {
    app: App,
}

impl ReconciliationApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl ReconciliationService for ReconciliationApi {
    async fn list_reconciliation_runs(
        &self,
        request: Request<proto::ListReconciliationRunsRequest>,
    ) -> Result<Response<proto::ListReconciliationRunsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (runs, total) = self.app.reconciliation_runs(&principal, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListReconciliationRunsResponse {
            runs: runs.iter().map(wire::run).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn get_reconciliation_run(
        &self,
        request: Request<proto::GetReconciliationRunRequest>,
    ) -> Result<Response<proto::GetReconciliationRunResponse>, Status> {
        let principal = principal(&request)?;
        let (run, lines) = self.app.reconciliation_run(&principal, &request.get_ref().run_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetReconciliationRunResponse {
            run: Some(wire::run(&run)),
            lines: lines.iter().map(wire::line).collect(),
        }))
    }
}
